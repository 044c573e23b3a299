"""Who may do what: the README's table as one function.

| role          | may                                                          |
| ------------- | ------------------------------------------------------------ |
| viewer        | read everything                                              |
| product owner | also edit the pilots where they hold the product owner or    |
|               | technical lead seat, and post their weekly updates; only the |
|               | product owner hands the product owner seat to someone else   |
| leadership    | also edit every pilot, start proposed pilots, change         |
|               | criteria after kickoff, record and correct decisions,        |
|               | promote and retire, see the audit trail and what changed,    |
|               | record a digest run                                          |
| admin         | everything, plus creating pilots, managing people and the    |
|               | business units, the readiness checklist, import, archiving   |
|               | and restoring pilots, recording any pilot's revocations      |

Whatever their role, the person in a pilot's operational owner seat records
their acceptance of its handover and its check-ins after go (an admin may
enter them on their behalf); the executive sponsor records theirs where a
setting asks for it (the service checks the setting and the seat).

A person who is inactive, or a signed-in identity that matches no person,
only reads (``Actor.person_id`` is None or the role is viewer). Services call
``require`` before they write; pages call ``may`` to decide what to offer.
Nothing else tests roles.
"""

from __future__ import annotations

from enum import Enum

from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.models import Actor, Pilot
from portfolio.domain.vocabulary import Role


class Right(str, Enum):
    """What a person may be allowed to do; the value is how a refusal says it."""

    EDIT_PILOT = "edit the pilot"
    POST_UPDATE = "post a weekly update"
    HAND_OVER_PRODUCT_OWNER = "hand the product owner seat to someone else"
    DECIDE = "record decisions"
    START_PILOT = "start a proposed pilot"
    CHANGE_CRITERIA_AFTER_KICKOFF = "change criteria after kickoff"
    PROMOTE_RETIRE = "promote or retire pilots"
    SEE_AUDIT = "see the audit trail"
    SEE_CHANGES = "see what changed"
    RECORD_DIGEST = "record a digest run"
    CREATE_PILOT = "create pilots"
    MANAGE_PEOPLE = "manage people"
    MANAGE_UNITS = "manage business units"
    MANAGE_CHECKLIST = "edit the readiness checklist"
    IMPORT = "import a spreadsheet"
    ARCHIVE = "archive or restore pilots"
    REVOKE_PRIVILEGE = "record the revocation of a borrowed privilege"
    ACCEPT_HANDOVER = "record acceptance of the handover"
    RECORD_CHECKIN = "record a check-in"


# Rights that concern one pilot: held by its product owner and technical lead
# too, and by nobody while it is archived.
PILOT_RIGHTS = frozenset({Right.EDIT_PILOT, Right.POST_UPDATE})

_LEADERSHIP = frozenset({
    Right.EDIT_PILOT, Right.POST_UPDATE, Right.HAND_OVER_PRODUCT_OWNER, Right.DECIDE, Right.START_PILOT,
    Right.CHANGE_CRITERIA_AFTER_KICKOFF, Right.PROMOTE_RETIRE, Right.SEE_AUDIT, Right.SEE_CHANGES,
    Right.RECORD_DIGEST,
})
_ADMIN_ONLY = frozenset({Right.CREATE_PILOT, Right.MANAGE_PEOPLE, Right.MANAGE_UNITS, Right.MANAGE_CHECKLIST,
                         Right.IMPORT, Right.ARCHIVE, Right.REVOKE_PRIVILEGE})

# Rights held by the person in a seat of the pilot, whatever their role
# (the operational owner is often a viewer), and by admins.
SEAT_RIGHTS = {
    Right.ACCEPT_HANDOVER: ("operational_owner_id", "executive_sponsor_id"),
    Right.RECORD_CHECKIN: ("operational_owner_id",),
}

# Who besides leadership and admin holds each right (the seats of a pilot).
_BY_ROLE = {
    Role.VIEWER: frozenset(),
    Role.PRODUCT_OWNER: frozenset(),
    Role.LEADERSHIP: _LEADERSHIP,
    Role.ADMIN: _LEADERSHIP | _ADMIN_ONLY,
}

# Who is named when a right is refused.
_WHO = {
    Right.EDIT_PILOT: "only its product owner or technical lead, leadership or an admin may",
    Right.POST_UPDATE: "only its product owner or technical lead, leadership or an admin may",
    # Those who hold the access day to day give it back and can show it.
    Right.REVOKE_PRIVILEGE: "only its product owner or technical lead, or an admin may",
    Right.ACCEPT_HANDOVER: "only its operational owner (or executive sponsor, where asked) or an admin may",
    Right.RECORD_CHECKIN: "only its operational owner or an admin may",
}


def may(actor: Actor | None, right: Right, pilot: Pilot | None = None) -> bool:
    """Whether ``actor`` may do ``right`` (on ``pilot`` for a pilot's rights)."""
    if actor is None:
        return False
    if right in SEAT_RIGHTS:
        if pilot is None or pilot.archived:
            return False
        if actor.person_id is not None and actor.person_id in [getattr(pilot, s) for s in SEAT_RIGHTS[right]]:
            return True
        return actor.role == Role.ADMIN
    if right in PILOT_RIGHTS:
        if pilot is None or pilot.archived:
            return False  # an archived pilot is restored first, by an admin
        if actor.role == Role.PRODUCT_OWNER and actor.person_id is not None and actor.person_id in (
                pilot.product_owner_id, pilot.technical_lead_id):
            return True
    if right == Right.HAND_OVER_PRODUCT_OWNER and pilot is not None and not pilot.archived \
            and actor.role == Role.PRODUCT_OWNER and actor.person_id is not None \
            and actor.person_id == pilot.product_owner_id:
        return True  # the product owner hands their own seat on; a technical lead cannot take it
    if right == Right.REVOKE_PRIVILEGE and pilot is not None and not pilot.archived \
            and actor.role != Role.VIEWER and actor.person_id is not None \
            and actor.person_id in (pilot.product_owner_id, pilot.technical_lead_id):
        return True  # whoever holds the seat, whatever else their role lets them do
    if right == Right.RECORD_DIGEST and actor.person_id is None:
        return False  # a run is recorded by a person, never by an unknown identity
    return right in _BY_ROLE[actor.role]


def who_may(right: Right) -> str:
    """The words a refusal uses for who holds ``right``."""
    if right in _WHO:
        return _WHO[right]
    return "only an admin may" if right in _ADMIN_ONLY else "only leadership or an admin may"


def require(actor: Actor, right: Right, pilot: Pilot | None = None, what: str | None = None) -> None:
    """Raise unless ``actor`` may do ``right``; ``what`` words the action
    when the right's own words are too general ("extend the clock")."""
    what = what or right.value
    if (right in PILOT_RIGHTS or right in SEAT_RIGHTS) and pilot is not None and pilot.archived:
        raise InvalidInput(f"Pilot: '{pilot.name}' is archived; an admin restores it before anyone may {what}",
                           field="pilot_id")
    if not may(actor, right, pilot):
        on = f" on '{pilot.name}'" if pilot is not None and (right in PILOT_RIGHTS or right in _WHO) else ""
        raise PermissionDenied(f"{actor.name} ({actor.role.label}) may not {what}{on}: {who_may(right)}.")
