"""Import: the organisation's own spreadsheet brought into the tracker.

The one path from a CSV or Excel file to pilots, used by the admin page and
the ``import`` command alike, in five steps, one module each:

* ``read``: the file as a table of strings, indexed by the row numbers a
  person sees in the file (``read_table``);
* ``mapping``: which column holds which field and what the file's stage
  values mean, guessed from the column names and the stage column's words
  (``guess_mapping``) or kept as TOML (``load_mapping``, ``dump_mapping``);
* ``dates``: a date cell as the date a person means, never guessed;
* ``plan``: what the file would do, row by row, with every problem and note,
  under the pilot's own rules (``domain.pilot_rules``); it writes nothing
  (``plan_import``);
* ``apply``: an admin writes the plan in one transaction, all or nothing, or
  only the valid rows with the rejected ones handed back (``apply_import``).

Pilots are matched by their external id (a row without one by its name
within its business unit), people by email (case-insensitive);
an email nobody holds yet becomes a new viewer. Columns mapped to no field are
kept with the pilot as attributes. The entry points the admin page and the
command line call are named here.
"""

from portfolio.services.importer.apply import (
    ImportResult,
    PortfolioChanged,
    apply_import,
    write_rejects,
)
from portfolio.services.importer.mapping import (
    FIELDS,
    LABELS,
    Mapping,
    dump_mapping,
    guess_mapping,
    load_mapping,
    norm,
    propose_stage,
    stage_proposals,
)
from portfolio.services.importer.plan import ImportPlan, Known, changes_in_words, plan_import, read_known
from portfolio.services.importer.read import read_table

__all__ = [
    "FIELDS", "LABELS", "ImportPlan", "ImportResult", "Known", "Mapping", "PortfolioChanged", "apply_import",
    "changes_in_words", "dump_mapping", "guess_mapping", "load_mapping", "norm", "plan_import", "propose_stage",
    "read_known", "read_table", "stage_proposals", "write_rejects",
]
