"""The calendar feed: every go/no-go date, bridge due date and borrowed
privilege expiry as an iCalendar file (RFC 5545, built with ``icalendar``),
for the whole portfolio or for the pilots where one person holds a seat.

Each event's UID names the pilot (or privilege) and what the date is, never
the date itself, so a go/no-go date moved by an extension moves the event in
a subscribed calendar instead of adding a second one; its SEQUENCE is the
record's version, which only grows. An event whose date no longer stands (the
pilot decided, promoted, stopped or archived; the privilege decided) stays
in the feed as CANCELLED, so calendars that kept it remove it, until it is
more than ``CANCELLED_KEPT_DAYS`` behind the as-of date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event

from portfolio.domain.errors import NotFound
from portfolio.domain.models import Person
from portfolio.domain.vocabulary import PrivilegeKind, Stage
from portfolio.storage import calendar as calendar_store
from portfolio.storage import store

# The part after @ of every event's UID: these events are the tracker's.
UID_DOMAIN = "pilot-portfolio.tracker"

# A cancelled event older than this (against the as-of date) leaves the
# feed: calendars have long since removed it, and the feed stays short.
CANCELLED_KEPT_DAYS = 365

# How often a subscribed calendar should fetch the feed again (a hint; each
# client keeps its own schedule).
REFRESH = timedelta(hours=6)

# Stages whose go/no-go date is still ahead of a decision.
_AWAITING_DECISION = (Stage.PROPOSED, Stage.PILOT)
# Stages in which a borrowed privilege still has to be decided.
_BORROWING = (Stage.PROPOSED, Stage.PILOT, Stage.BRIDGE)


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    on: date
    summary: str
    description: str
    cancelled: bool
    sequence: int
    pilot_id: int
    url: str | None = None


def _pilot_url(base_url: str | None, pilot_id: int) -> str | None:
    return f"{base_url.rstrip('/')}/pilot?id={pilot_id}" if base_url else None


def _why_cancelled(stage: Stage, archived: bool) -> str:
    if archived:
        return "Cancelled: the pilot is archived."
    return f"Cancelled: the pilot is now {stage.value}."


def events_from(pilots: list[dict], privileges: list[dict], *, as_of: date,
                base_url: str | None = None) -> list[CalendarEvent]:
    """The feed's events from the rows storage hands back (see
    storage/calendar.py), in date order."""
    events: list[CalendarEvent] = []
    for p in pilots:
        stage, archived = Stage(p["stage"]), bool(p["archived"])
        owner = f"Product owner: {p['product_owner']}." if p.get("product_owner") else "No product owner."
        unit = f" ({p['business_unit']})" if p.get("business_unit") else ""
        about = f"Pilot: {p['name']}{unit}, {stage.value}. {owner}"
        url = _pilot_url(base_url, p["id"])
        if p.get("go_no_go_date") is not None:
            live = stage in _AWAITING_DECISION and not archived
            events.append(CalendarEvent(
                uid=f"pilot-{p['id']}-go-no-go@{UID_DOMAIN}", on=p["go_no_go_date"],
                summary=f"Go/no-go: {p['name']}",
                description=" ".join([about, "The go/no-go decision is due." if live
                                      else _why_cancelled(stage, archived)]),
                cancelled=not live, sequence=int(p["version"]), pilot_id=p["id"], url=url))
        if p.get("bridge_due_date") is not None:
            live = stage == Stage.BRIDGE and not archived
            events.append(CalendarEvent(
                uid=f"pilot-{p['id']}-bridge-due@{UID_DOMAIN}", on=p["bridge_due_date"],
                summary=f"Bridge due: {p['name']}",
                description=" ".join([about, "The bridge to production is due." if live
                                      else _why_cancelled(stage, archived)]),
                cancelled=not live, sequence=int(p["version"]), pilot_id=p["id"], url=url))
    for v in privileges:
        stage, archived = Stage(v["stage"]), bool(v["archived"])
        # Live while the privilege is still held (as PRIVILEGES_NOT_REVOKED
        # says): a stopped pilot or a decision to withdraw does not give it back.
        permanent, revoked = v["disposition"] == "make_permanent", v.get("revoked_on") is not None
        live = not permanent and not revoked and not archived
        why = ("Still held: to be revoked before then." if live and v["disposition"] == "withdraw"
               else "To be made permanent or withdrawn before then." if live
               else "Cancelled: the privilege is revoked." if revoked
               else "Cancelled: the privilege was made permanent." if permanent
               else _why_cancelled(stage, archived))
        events.append(CalendarEvent(
            uid=f"privilege-{v['id']}-expires@{UID_DOMAIN}", on=v["expires"],
            summary=f"Privilege expires: {v['description']} ({v['pilot']})",
            description=f"Borrowed {PrivilegeKind(v['kind']).label} of the pilot {v['pilot']}: {v['description']}. "
                        + why,
            # Either record's change is a new version of the event.
            cancelled=not live, sequence=int(v["version"]) + int(v["pilot_version"]), pilot_id=v["pilot_id"],
            url=_pilot_url(base_url, v["pilot_id"])))
    cutoff = as_of - timedelta(days=CANCELLED_KEPT_DAYS)
    kept = [e for e in events if not (e.cancelled and e.on < cutoff)]
    return sorted(kept, key=lambda e: (e.on, e.uid))


def render(events: list[CalendarEvent], *, name: str, stamp: datetime) -> bytes:
    """The events as an iCalendar file; ``stamp`` (UTC) is when it was made."""
    cal = Calendar()
    cal.add("prodid", "-//Pilot portfolio tracker//Go-no-go dates//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT6H")  # the same hint, as Outlook reads it
    for e in events:
        ev = Event()
        ev.add("uid", e.uid)
        ev.add("dtstamp", stamp)
        ev.add("dtstart", e.on)  # a whole day
        ev.add("dtend", e.on + timedelta(days=1))
        ev.add("summary", e.summary)
        ev.add("description", e.description + (f" {e.url}" if e.url else ""))
        ev.add("status", "CANCELLED" if e.cancelled else "CONFIRMED")
        ev.add("sequence", e.sequence)
        ev.add("transp", "TRANSPARENT")  # a date to keep in mind, not a busy day
        if e.url:
            ev.add("url", e.url)
        cal.add_component(ev)
    return cal.to_ical()


def feed(conn, *, as_of: date, stamp: datetime, person: Person | None = None,
         base_url: str | None = None) -> bytes:
    """The whole portfolio's feed, or ``person``'s (the pilots where they
    hold a seat)."""
    person_id = person.id if person else None
    events = events_from(calendar_store.dated_pilots(conn, person_id),
                         calendar_store.expiring_privileges(conn, person_id), as_of=as_of, base_url=base_url)
    name = f"Pilot portfolio: {person.name}'s pilots" if person else "Pilot portfolio"
    return render(events, name=name, stamp=stamp)


def person_by_email(conn, email: str) -> Person:
    """The person a feed is for, by email (any case)."""
    found = store.find_person_by_email(conn, email)
    if found is None:
        raise NotFound(f"Person: nobody has the email {email}", field="person")
    return found
