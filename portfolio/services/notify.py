"""Reminders by email (``python -m portfolio notify``, daily from cron): per
active person at most one email a run, listing only what needs them,
grouped by pilot, each item with why, its date and a link to where it is
acted on. Who gets what is the table in ``domain/reminders.py``; this
module gathers the facts, leaves out what was sent already, writes the
messages (plain text and HTML, every user-written value escaped) and
records each delivery, so a rerun the same day sends nothing new. A send
that fails is not recorded, so the next run tries it again; a delivery
whose record cannot be written (the database busy or refusing) is reported
and the others still go out (that person gets it again next run).

And each person's choice ("email me", and which categories), set on the
People page by the person or an admin.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import duckdb

from portfolio import flags as flag_rules
from portfolio.domain import rights
from portfolio.domain.errors import InvalidInput, PermissionDenied, StorageBusy, StorageError, validate
from portfolio.domain.models import Actor, EmailPreferencesIn
from portfolio.domain.reminders import (
    ALL_CATEGORIES,
    Category,
    Item,
    PilotFacts,
    Recipient,
    Where,
    day_words,
    reminders,
    still_to_send,
)
from portfolio.domain.rights import Right
from portfolio.domain.settings import Settings
from portfolio.domain.text import without_controls
from portfolio.domain.vocabulary import Role, Seat
from portfolio.services import mail
from portfolio.services.signin import command_line_actor
from portfolio.storage import audit, db, store
from portfolio.storage import notify as notify_store

# --- who wants what ----------------------------------------------------------------


@dataclass(frozen=True)
class Preference:
    email_me: bool
    categories: tuple[Category, ...]


def preference(conn, person_id: int) -> Preference:
    store.get_person(conn, person_id)
    email_me, categories = notify_store.preference(conn, person_id)
    chosen = ALL_CATEGORIES if categories is None else tuple(c for c in ALL_CATEGORIES if c.value in categories)
    return Preference(email_me, chosen)


def may_set_preference(actor: Actor | None, person) -> bool:
    """Whether ``actor`` may choose the emails of ``person``: their own
    while they are active, or anyone's for an admin."""
    if actor is None or actor.person_id is None:
        return False
    return rights.may(actor, Right.MANAGE_PEOPLE) or (actor.person_id == person.id and person.active)


def set_preference(conn, actor: Actor, person_id: int, values: dict) -> Preference:
    """Save whether ``person_id`` gets reminder emails and which, audited."""
    person = store.get_person(conn, person_id)
    if not may_set_preference(actor, person):
        if actor.person_id == person_id:
            raise PermissionDenied(f"{person.name} is inactive and may not change their emails.")
        rights.require(actor, Right.MANAGE_PEOPLE, what=f"choose the emails of {person.name}")
    chosen = validate(EmailPreferencesIn, **values)

    def work(c):
        with audit.tracking(c, actor, "notify_preference", person_id, "edit"):
            notify_store.set_preference(c, person_id, chosen.email_me, [x.value for x in chosen.categories])
        return preference(c, person_id)

    return db.write(conn, work)


# --- what is due -------------------------------------------------------------------


@dataclass
class PersonReminders:
    person: Recipient
    items: list[Item]

    @property
    def pilots(self) -> list[tuple[int, str, str, list[Item]]]:
        """(pilot id, name, business unit, items) in the items' order."""
        out: dict[int, tuple[int, str, str, list[Item]]] = {}
        for i in self.items:
            out.setdefault(i.pilot_id, (i.pilot_id, i.pilot, i.business_unit, []))[3].append(i)
        return list(out.values())


def _facts(conn, as_of: date, settings: Settings) -> list[PilotFacts]:
    flag_frame = flag_rules.portfolio_flags(conn, as_of, settings)
    by_pilot: dict[int, dict[str, tuple[str, str]]] = {}
    for pilot_id, code, reason in zip(flag_frame["pilot_id"], flag_frame["code"], flag_frame["reason"]):
        by_pilot.setdefault(int(pilot_id), {})[str(code)] = (flag_rules.label(str(code)), str(reason))
    updated = store.weeks_with_update(conn, as_of - timedelta(days=as_of.weekday()), as_of)
    seats = (Seat.PRODUCT_OWNER, Seat.TECHNICAL_LEAD, Seat.EXECUTIVE_SPONSOR, Seat.OPERATIONAL_OWNER)
    return [
        PilotFacts(id=r[0], name=r[1], business_unit=r[2] or "", stage=r[3], go_no_go_date=r[4],
                   bridge_due_date=r[5], seats=dict(zip(seats, r[6:10])), updated_this_week=r[0] in updated,
                   flags=by_pilot.get(r[0], {}))
        for r in notify_store.pilots_for_reminders(conn)
    ]


def _recipients(conn) -> list[Recipient]:
    return [
        Recipient(id=r[0], name=r[1], email=r[2], role=Role(r[3]), active=bool(r[4]), email_me=bool(r[5]),
                  categories=frozenset(ALL_CATEGORIES if r[6] is None else
                                       (c for c in ALL_CATEGORIES if c.value in notify_store.split_categories(r[6]))))
        for r in notify_store.people_with_preferences(conn)
    ]


def plan(conn, as_of: date, settings: Settings, only: str | None = None) -> list[PersonReminders]:
    """Who gets what on ``as_of``, what was sent already left out, by name.
    ``only``: one person's email (refused when it names nobody or someone
    inactive)."""
    people = _recipients(conn)
    if only is not None:
        key = only.strip().lower()
        match = [p for p in people if p.email.lower() == key]
        if not match:
            raise InvalidInput(f"Only: {only} belongs to nobody in this portfolio", field="only")
        if not match[0].active:
            raise InvalidInput(f"Only: {match[0].name} <{match[0].email}> is inactive and is never emailed",
                               field="only")
    due = still_to_send(reminders(_facts(conn, as_of, settings), people, as_of, settings),
                        notify_store.last_sent(conn, as_of), as_of, settings)
    by_id = {p.id: p for p in people}
    out = [PersonReminders(by_id[pid], items) for pid, items in due.items()]
    if only is not None:
        out = [r for r in out if r.person.email.lower() == only.strip().lower()]
    return sorted(out, key=lambda r: (r.person.name.lower(), r.person.id))


# --- the message ---------------------------------------------------------------------

PAGES = {Where.UPDATE: ("weekly_update", "pilot", "Post the update"),
         Where.DECISION: ("decisions", "id", "Open it on the Decisions page"),
         Where.PILOT: ("pilot", "id", "Open the pilot")}


def link(base_url: str, where: Where, pilot_id: int) -> str:
    page, param, _ = PAGES[where]
    return f"{base_url}/{page}?{param}={pilot_id}"


def _one_line(value) -> str:
    return " ".join(without_controls("" if value is None else str(value)).split())


def subject(r: PersonReminders) -> str:
    pilots = r.pilots
    first = _one_line(pilots[0][1])
    more = f" and {len(pilots) - 1} more pilot{'s' * (len(pilots) > 2)}" if len(pilots) > 1 else ""
    n = len(r.items)
    return f"Pilot portfolio: {n} thing{'s' * (n != 1)} need{'s' * (n == 1)} you on {first}{more}"


def plain_text(r: PersonReminders, as_of: date, base_url: str) -> str:
    lines = [f"Hello {_one_line(r.person.name)},", "",
             f"As of {day_words(as_of)}, these need you in the pilot portfolio:", ""]
    for pilot_id, name, unit, items in r.pilots:
        lines.append(_one_line(name) + (f" ({_one_line(unit)})" if unit else ""))
        for i in items:
            lines.append(f"  - {_one_line(i.text)}")
            lines.append(f"    {PAGES[i.where][2]}: {link(base_url, i.where, pilot_id)}")
        lines.append(f"  The pilot: {link(base_url, Where.PILOT, pilot_id)}")
        lines.append("")
    lines.append("You get this email because you hold a seat on these pilots or a leadership role. "
                 f"Choose what you get (or stop these emails) on the People page: {base_url}/people")
    return "\n".join(lines) + "\n"


def _h(value) -> str:
    return html.escape(_one_line(value), quote=True)


def html_text(r: PersonReminders, as_of: date, base_url: str) -> str:
    parts = [f"<p>Hello {_h(r.person.name)},</p>",
             f"<p>As of {_h(day_words(as_of))}, these need you in the pilot portfolio:</p>"]
    for pilot_id, name, unit, items in r.pilots:
        parts.append(f'<h3 style="margin-bottom:.2em"><a href="{_h(link(base_url, Where.PILOT, pilot_id))}">'
                     f"{_h(name)}</a>" + (f" <small>({_h(unit)})</small>" if unit else "") + "</h3>")
        parts.append("<ul>" + "".join(
            f'<li>{_h(i.text)}<br><a href="{_h(link(base_url, i.where, pilot_id))}">{_h(PAGES[i.where][2])}</a></li>'
            for i in items) + "</ul>")
    parts.append('<p style="color:#656d76"><small>You get this email because you hold a seat on these pilots or '
                 f'a leadership role. Choose what you get (or stop these emails) on the '
                 f'<a href="{_h(base_url + "/people")}">People page</a>.</small></p>')
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"></head>'
            '<body style="font-family:system-ui,sans-serif;color:#1f2328">' + "".join(parts) + "</body></html>")


def message(r: PersonReminders, as_of: date, config: mail.MailConfig) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject(r)
    msg["From"] = config.sender or "pilot-portfolio@localhost"
    msg["To"] = formataddr((_one_line(r.person.name), r.person.email))
    msg["Message-ID"] = make_msgid(domain="pilot-portfolio")
    msg.set_content(plain_text(r, as_of, config.base_url))
    msg.add_alternative(html_text(r, as_of, config.base_url), subtype="html")
    return msg


# --- the run ---------------------------------------------------------------------


@dataclass
class RunResult:
    planned: list[PersonReminders]
    sent: list[PersonReminders] = field(default_factory=list)
    failed: list[tuple[PersonReminders, str]] = field(default_factory=list)
    # Delivered, but the record of it could not be written: sent again on the next run.
    unrecorded: list[tuple[PersonReminders, str]] = field(default_factory=list)


def run(path, as_of: date, settings: Settings, config: mail.MailConfig, *, only: str | None = None,
        dry_run: bool = False, progress=None) -> RunResult:
    """Plan the reminders, and unless ``dry_run`` send each person's email
    and record it right after it is delivered. The database is held only
    to read the plan and to record each delivery, never while the mail
    server is talking. ``progress(text)`` is told each outcome."""
    with db.session(path) as conn:
        planned = plan(conn, as_of, settings, only)
    result = RunResult(planned)
    if dry_run or not planned:
        return result
    if config.server is None:
        raise InvalidInput("PORTFOLIO_SMTP_URL is not set", field="PORTFOLIO_SMTP_URL")
    with mail.Mailer(config.server) as mailer:
        unusable: str | None = None
        for r in planned:
            if unusable is not None:
                result.failed.append((r, unusable))
                continue
            try:
                mailer.send(message(r, as_of, config))
            except mail.ServerUnusable as exc:
                unusable = str(exc)
                result.failed.append((r, unusable))
            except mail.SendFailed as exc:
                result.failed.append((r, str(exc)))
            else:
                result.sent.append(r)
                try:
                    with db.session(path) as conn:
                        _record(conn, r, as_of)
                except (StorageBusy, StorageError, duckdb.Error) as exc:
                    # One record that cannot be written does not stop the others' emails.
                    result.unrecorded.append((r, _storage_words(exc)))
            if progress is not None:
                last = result.failed[-1] if result.failed and result.failed[-1][0] is r else None
                unrecorded = result.unrecorded[-1] if result.unrecorded and result.unrecorded[-1][0] is r else None
                progress(f"not sent to {r.person.email}: {last[1]}" if last else
                         f"sent to {r.person.email} but not recorded: {unrecorded[1]}" if unrecorded else
                         f"sent to {r.person.email}: {len(r.items)} item(s) on {len(r.pilots)} pilot(s)")
    return result


def _storage_words(exc: Exception) -> str:
    if isinstance(exc, (StorageBusy, StorageError)):
        return str(exc)
    return f"the database refused the record ({type(exc).__name__})"


def _record(conn, r: PersonReminders, as_of: date) -> None:
    actor = command_line_actor(conn)

    def work(c):
        notify_store.record_sent(c, r.person.id, [(i.pilot_id, i.reason, i.step) for i in r.items], as_of)
        audit.event(c, actor, "reminder", r.person.id, "send", {
            "to": r.person.email, "as_of": as_of,
            "items": [{"pilot_id": i.pilot_id, "reason": i.reason, "step": i.step} for i in r.items]})

    db.write(conn, work)


def env_config(*, need_server: bool) -> mail.MailConfig:
    return mail.load_config(os.environ, need_server=need_server)
