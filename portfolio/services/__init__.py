"""The services: what users do, one module per thing they work on.

Pages and the command line call services only; services check who may do it
(``domain.rights``), validate the input against the domain's rules, and read
and write through storage, each change in one transaction: a refusal raises
and writes nothing.

* ``pilots``: create, edit, start the clock, archive and restore;
* ``updates``: weekly updates and the KPI readings posted with them;
* ``people``: add, edit, deactivate and reactivate people, hand seats over;
* ``signin``: who is acting, in the app and on the command line;
* ``decisions``: criteria, go/no-go decisions, the bridge, promote and retire;
* ``production``: borrowed privileges, KPIs, production readiness;
* ``handover``: the handover accepted before go, the check-ins after it;
* ``importer``: a spreadsheet brought in (read, mapping, dates, plan, apply);
* ``reporting``: the overview, the digest, the review and the exports;
* ``demo``: a made-up portfolio to try the tracker on.

A new action goes into the module of the thing it changes, with its rights
check from ``domain.rights`` and its SQL in ``storage``.
"""
