"""Reminders by email, against a real SMTP server on 127.0.0.1 (aiosmtpd,
started by the test): `python -m portfolio notify` on the demo portfolio as
of its fixed day, the messages as received (recipients, subject, both
parts, links, escaping), never twice, a refused recipient retried on the
next run while the others are delivered, and who may choose the emails."""

from __future__ import annotations

import contextlib
import email
import email.policy
import socket
import ssl
import subprocess
from datetime import timedelta

import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from portfolio.domain.errors import InvalidInput, PermissionDenied
from portfolio.domain.models import Actor
from portfolio.domain.reminders import Category
from portfolio.domain.vocabulary import Role
from portfolio.services import notify, people
from portfolio.storage import db, store
from tests.conftest import AS_OF, actor_of, run_cli

BASE = "https://pilots.example.com"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts and refuses
    the recipients in ``refuse`` at RCPT (550), as a server refuses an
    address it does not know."""

    def __init__(self):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.refuse: set[str] = set()
        self.encrypted: list[bool] = []  # per message: did it come over TLS

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        self.encrypted.append(session.ssl is not None)
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpt, m in self.messages if address.lower() in [r.lower() for r in rcpt]]


@pytest.fixture
def smtp():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (the controller checks its own start on it)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        inbox.url = f"smtp://127.0.0.1:{port}"
        yield inbox
    finally:
        controller.stop()


def notify_cli(db_path, smtp, *args, as_of=AS_OF):
    return run_cli("notify", "--db", str(db_path), "--as-of", as_of.isoformat(), *args,
                   env={"PORTFOLIO_SMTP_URL": smtp.url, "PORTFOLIO_MAIL_FROM": "Pilot portfolio <pilots@example.com>",
                        "PORTFOLIO_BASE_URL": BASE, "PORTFOLIO_USER": None})


def one(path, sql, params=()):
    with duckdb.connect(str(path)) as c:
        return c.execute(sql, list(params)).fetchone()


def parts(msg) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_the_product_owner_of_a_pilot_without_this_weeks_update_gets_one_email_naming_it(held_demo_db, smtp):
    # A pilot on the clock with no update this week (the demo's day is a Monday, the default reminder day).
    pilot_id, pilot, owner, owner_email = one(held_demo_db, """
        SELECT p.id, p.name, po.name, po.email FROM pilot p JOIN person po ON po.id = p.product_owner_id
        WHERE p.stage = 'pilot' AND po.active AND NOT p.archived
          AND p.id NOT IN (SELECT pilot_id FROM weekly_update WHERE week_start = ?)
        ORDER BY p.id LIMIT 1""", [AS_OF - timedelta(days=AS_OF.weekday())])

    out = notify_cli(held_demo_db, smtp)

    assert out.returncode == 0, out.stderr
    mine = smtp.to(owner_email)
    assert len(mine) == 1  # one email, however many items
    msg = mine[0]
    assert msg["To"].addresses[0].addr_spec == owner_email
    assert msg["From"].addresses[0].addr_spec == "pilots@example.com"
    assert msg.is_multipart() and msg.get_content_type() == "multipart/alternative"
    text, page = parts(msg)
    assert pilot in text and pilot in page
    assert "This week's update is missing" in text
    # The link opens the weekly-update form with this pilot chosen.
    assert f"{BASE}/weekly_update?pilot={pilot_id}" in text
    assert f'href="{BASE}/weekly_update?pilot={pilot_id}"' in page
    assert f"Hello {owner}" in text
    # Every person got at most one email.
    recipients = [r[0].lower() for r, _ in smtp.messages]
    assert len(recipients) == len(set(recipients))


def test_the_sponsor_of_a_pilot_overdue_beyond_the_escalation_setting_gets_the_escalation(held_demo_db, smtp):
    pilot_id, pilot, sponsor_email, late = one(held_demo_db, """
        SELECT p.id, p.name, es.email, date_diff('day', p.go_no_go_date, ?) FROM pilot p
        JOIN person es ON es.id = p.executive_sponsor_id
        WHERE p.stage = 'pilot' AND es.active AND NOT p.archived AND p.go_no_go_date < ? - INTERVAL 7 DAY
        ORDER BY p.id LIMIT 1""", [AS_OF, AS_OF])
    assert late > 7

    assert notify_cli(held_demo_db, smtp).returncode == 0

    (msg,) = smtp.to(sponsor_email)
    text, page = parts(msg)
    assert f"Escalation: the go/no-go decision is overdue by {late} days, more than 7" in text
    assert pilot in text
    # A decision is acted on on the Decisions page, with the pilot chosen.
    assert f"{BASE}/decisions?id={pilot_id}" in text and f'href="{BASE}/decisions?id={pilot_id}"' in page


def test_a_second_run_the_same_day_delivers_nothing_and_a_week_later_what_still_holds_again(held_demo_db, smtp):
    assert notify_cli(held_demo_db, smtp).returncode == 0
    first = len(smtp.messages)
    assert first > 5
    sent = one(held_demo_db, "SELECT count(*) FROM reminder_sent")[0]

    again = notify_cli(held_demo_db, smtp)
    assert again.returncode == 0
    assert len(smtp.messages) == first  # nothing new delivered
    assert "Nothing new" in again.stdout
    assert one(held_demo_db, "SELECT count(*) FROM reminder_sent")[0] == sent

    # The next day: only what changed step (a new reason, 7 -> 0 days...) would go; a
    # week later what still holds goes again.
    assert notify_cli(held_demo_db, smtp, as_of=AS_OF + timedelta(days=7)).returncode == 0
    assert len(smtp.messages) > first


def test_a_refused_recipient_is_retried_on_the_next_run_while_the_others_are_delivered(held_demo_db, smtp):
    with db.session(held_demo_db) as conn:
        planned = notify.plan(conn, AS_OF, notify.Settings())
    victim = planned[0].person.email
    smtp.refuse = {victim.lower()}

    out = notify_cli(held_demo_db, smtp)

    assert out.returncode != 0  # the scheduler hears about it
    assert victim in out.stderr and "550" in out.stderr
    assert "Traceback" not in out.stderr
    assert smtp.to(victim) == []
    delivered = {r[0].lower() for r, _ in smtp.messages}
    assert delivered == {p.person.email.lower() for p in planned[1:]}  # everyone else, in full
    assert one(held_demo_db, "SELECT count(*) FROM reminder_sent WHERE person_id = ?",
               [planned[0].person.id])[0] == 0  # not recorded: retried next time

    smtp.refuse = set()
    retry = notify_cli(held_demo_db, smtp)
    assert retry.returncode == 0, retry.stderr
    assert len(smtp.to(victim)) == 1  # the one who missed it gets it now
    assert len(smtp.messages) == len(planned)  # and nobody else a second time


def test_user_written_values_are_escaped_in_the_html_and_kept_as_text_in_the_plain_part(held_demo_db, smtp):
    owner_email, pilot_id = one(held_demo_db, """
        SELECT po.email, p.id FROM pilot p JOIN person po ON po.id = p.product_owner_id
        WHERE p.stage = 'pilot' AND po.active AND NOT p.archived ORDER BY p.id LIMIT 1""")
    hostile = '<img src=x onerror=alert(1)> & "Q"'
    with duckdb.connect(str(held_demo_db)) as c:
        c.execute("UPDATE pilot SET name = ? WHERE id = ?", [hostile, pilot_id])
        c.execute("UPDATE person SET name = '<b>Bold</b> Owner' WHERE email = ?", [owner_email])

    assert notify_cli(held_demo_db, smtp, "--only", owner_email).returncode == 0

    (msg,) = [m for _, m in smtp.messages]
    text, page = parts(msg)
    assert hostile in text and "<b>Bold</b> Owner" in text
    assert "<img" not in page and "<b>Bold</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Q&quot;" in page
    assert "&lt;b&gt;Bold&lt;/b&gt; Owner" in page


def test_dry_run_prints_who_would_get_what_and_sends_nothing(held_demo_db, smtp):
    out = notify_cli(held_demo_db, smtp, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "would be sent; nothing sent or recorded" in out.stdout
    assert "This week's update is missing" in out.stdout
    assert smtp.messages == []
    assert one(held_demo_db, "SELECT count(*) FROM reminder_sent")[0] == 0


def test_only_sends_one_persons_email_and_refuses_an_inactive_or_unknown_one(held_demo_db, smtp):
    someone = one(held_demo_db, """SELECT po.email FROM pilot p JOIN person po ON po.id = p.product_owner_id
                                    WHERE p.stage = 'pilot' AND po.active ORDER BY p.id LIMIT 1""")[0]
    out = notify_cli(held_demo_db, smtp, "--only", someone.upper())
    assert out.returncode == 0, out.stderr
    assert [r for r, _ in smtp.messages] == [[someone]]

    gone = one(held_demo_db, "SELECT email FROM person WHERE NOT active LIMIT 1")[0]
    refused = notify_cli(held_demo_db, smtp, "--only", gone)
    assert refused.returncode != 0 and "inactive and is never emailed" in refused.stderr
    nobody = notify_cli(held_demo_db, smtp, "--only", "nobody@example.com")
    assert nobody.returncode != 0 and "belongs to nobody" in nobody.stderr
    assert len(smtp.messages) == 1


def test_an_inactive_person_is_never_emailed_and_email_me_off_or_a_category_off_is_honoured(held_demo_db, smtp):
    with db.session(held_demo_db) as conn:
        planned = notify.plan(conn, AS_OF, notify.Settings())
        off, updates_only = planned[0].person, planned[1].person
        admin = Actor.of(next(p for p in store.list_people(conn) if p.role == Role.ADMIN and p.active))
        notify.set_preference(conn, admin, off.id, {"email_me": False, "categories": list(Category)})
        notify.set_preference(conn, admin, updates_only.id, {"email_me": True, "categories": ["updates"]})
    inactive = one(held_demo_db, """SELECT count(*) FROM person WHERE NOT active""")[0]
    assert inactive >= 1

    assert notify_cli(held_demo_db, smtp).returncode == 0

    assert smtp.to(off.email) == []
    for msg in smtp.to(updates_only.email):
        text, _ = parts(msg)
        items = [line for line in text.splitlines() if line.startswith("  - ")]
        assert items and all("This week's update is missing" in line for line in items)
    with duckdb.connect(str(held_demo_db)) as c:
        gone = {r[0].lower() for r in c.execute("SELECT email FROM person WHERE NOT active").fetchall()}
    assert not gone & {r[0].lower() for r, _ in smtp.messages}


def test_the_mail_settings_are_checked_and_the_password_never_shown(held_demo_db):
    base = {"PORTFOLIO_MAIL_FROM": "pilots@example.com", "PORTFOLIO_USER": None}
    unset = run_cli("notify", "--db", str(held_demo_db), "--as-of", AS_OF.isoformat(),
                    env={**base, "PORTFOLIO_SMTP_URL": None})
    assert unset.returncode != 0 and "PORTFOLIO_SMTP_URL is not set" in unset.stderr
    # A server that is not there, with a password in the URL: named without it.
    closed = run_cli("notify", "--db", str(held_demo_db), "--as-of", AS_OF.isoformat(),
                     env={**base, "PORTFOLIO_SMTP_URL": "smtp://robot:S3cret-pw@127.0.0.1:1"})
    assert closed.returncode != 0
    assert "127.0.0.1:1" in closed.stderr and "robot" in closed.stderr
    assert "S3cret-pw" not in closed.stdout + closed.stderr
    assert one(held_demo_db, "SELECT count(*) FROM reminder_sent")[0] == 0
    with duckdb.connect(str(held_demo_db)) as c:
        assert c.execute("SELECT count(*) FROM audit WHERE after LIKE '%S3cret%'").fetchone()[0] == 0
    wrong = run_cli("notify", "--db", str(held_demo_db), "--as-of", AS_OF.isoformat(),
                    env={**base, "PORTFOLIO_SMTP_URL": "http://robot:S3cret-pw@mail.example.com"})
    assert wrong.returncode != 0 and "is not smtp or smtps" in wrong.stderr and "S3cret" not in wrong.stderr


# --- choosing the emails -------------------------------------------------------------


def test_a_person_chooses_their_own_emails_an_admin_anyones_and_it_is_audited(conn, admin):
    owner = actor_of(conn, Role.PRODUCT_OWNER, name="Olu Owner")
    other = actor_of(conn, Role.PRODUCT_OWNER, name="Otto Other")
    saved = notify.set_preference(conn, owner, owner.person_id, {"email_me": True, "categories": ["decisions"]})
    assert saved.categories == (Category.DECISIONS,)
    with pytest.raises(PermissionDenied):
        notify.set_preference(conn, owner, other.person_id, {"email_me": False, "categories": []})
    notify.set_preference(conn, admin, other.person_id, {"email_me": False, "categories": []})
    assert notify.preference(conn, other.person_id).email_me is False
    with pytest.raises(InvalidInput) as bad:
        notify.set_preference(conn, admin, other.person_id, {"email_me": True, "categories": ["gossip"]})
    assert bad.value.field == "categories"
    assert conn.execute("SELECT count(*) FROM audit WHERE entity = 'notify_preference'").fetchone()[0] == 2
    people.deactivate_person(conn, admin, owner.person_id)
    gone = Actor.of(store.get_person(conn, owner.person_id))
    with pytest.raises(PermissionDenied):
        notify.set_preference(conn, gone, owner.person_id, {"email_me": False, "categories": []})


# --- signing in over TLS ------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1, trusted by this test's
    clients (SSL_CERT_FILE), and the server side's TLS context."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    return context


class Logins:
    """An aiosmtpd authenticator that takes one user and password and keeps every attempt."""

    def __init__(self, user: str, password: str):
        self.expected, self.tried = (user, password), []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        got = (auth_data.login.decode(), auth_data.password.decode())
        self.tried.append(got)
        return AuthResult(success=got == self.expected, handled=False)  # a refusal answered 535


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def served(handler, **kwargs):
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _notify_with(db_path, url, *args):
    return run_cli("notify", "--db", str(db_path), "--as-of", AS_OF.isoformat(), *args,
                   env={"PORTFOLIO_SMTP_URL": url, "PORTFOLIO_MAIL_FROM": "pilots@example.com",
                        "PORTFOLIO_BASE_URL": BASE, "PORTFOLIO_USER": None})


def _someone(db_path) -> str:
    return one(db_path, """SELECT po.email FROM pilot p JOIN person po ON po.id = p.product_owner_id
                           WHERE p.stage = 'pilot' AND po.active ORDER BY p.id LIMIT 1""")[0]


def test_smtp_with_a_user_signs_in_after_starttls_and_the_password_is_never_shown(held_demo_db, tls_server):
    inbox, logins = Inbox(), Logins("robot", "S3cret@pw")
    with served(inbox, tls_context=tls_server, require_starttls=True, authenticator=logins,
                auth_require_tls=True) as port:
        ok = _notify_with(held_demo_db, f"smtp://robot:S3cret%40pw@127.0.0.1:{port}", "--only", _someone(held_demo_db))
        assert ok.returncode == 0, ok.stderr
        assert logins.tried == [("robot", "S3cret@pw")] and len(inbox.messages) == 1
        wrong = _notify_with(held_demo_db, f"smtp://robot:Wr0ng-pw@127.0.0.1:{port}")
    assert wrong.returncode != 0
    assert "refused the sign-in of robot" in wrong.stderr
    assert "Wr0ng-pw" not in wrong.stdout + wrong.stderr and "S3cret" not in ok.stdout + ok.stderr
    with duckdb.connect(str(held_demo_db)) as c:
        assert c.execute("SELECT count(*) FROM audit WHERE after LIKE '%pw%'").fetchone()[0] == 0


def test_smtps_signs_in_over_tls_from_the_start(held_demo_db, tls_server):
    inbox, logins = Inbox(), Logins("robot", "pw")
    with served(inbox, ssl_context=tls_server, authenticator=logins, auth_require_tls=False) as port:
        out = _notify_with(held_demo_db, f"smtps://robot:pw@127.0.0.1:{port}", "--only", _someone(held_demo_db))
    assert out.returncode == 0, out.stderr
    assert logins.tried == [("robot", "pw")] and len(inbox.messages) == 1


def test_a_password_is_not_sent_to_a_server_that_offers_no_starttls(held_demo_db, smtp):
    out = _notify_with(held_demo_db, smtp.url.replace("smtp://", "smtp://robot:S3cret@"))
    assert out.returncode != 0
    assert "offers no STARTTLS" in out.stderr and "S3cret" not in out.stderr
    assert smtp.messages == []
    assert one(held_demo_db, "SELECT count(*) FROM reminder_sent")[0] == 0


def test_the_email_choices_and_reminders_sent_go_into_the_workbook_like_every_table(held_demo_db, smtp, tmp_path):
    import openpyxl

    from portfolio.services.reporting import export

    assert notify_cli(held_demo_db, smtp).returncode == 0
    with db.session(held_demo_db) as conn:
        admin = Actor.of(next(p for p in store.list_people(conn) if p.role == Role.ADMIN and p.active))
        notify.set_preference(conn, admin, admin.person_id, {"email_me": True, "categories": ["updates", "health"]})
        export.export_xlsx(conn, AS_OF, notify.Settings(), tmp_path / "all.xlsx")
    book = openpyxl.load_workbook(tmp_path / "all.xlsx")
    titles = {ws.title: ws for ws in book.worksheets}
    prefs = titles["Email choices"]
    assert [c.value for c in prefs[2]][1:] == [True, "updates,health"]
    assert titles["Reminders sent"].max_row > 1


def test_a_password_outside_ascii_gets_a_clean_message_that_never_shows_it(held_demo_db, tls_server):
    inbox, logins = Inbox(), Logins("robot", "Pässwort-ß")
    with served(inbox, tls_context=tls_server, require_starttls=True, authenticator=logins,
                auth_require_tls=True) as port:
        out = _notify_with(held_demo_db, f"smtp://robot:P%C3%A4sswort-%C3%9F@127.0.0.1:{port}",
                           "--only", _someone(held_demo_db))
    assert out.returncode != 0
    said = out.stdout + out.stderr
    assert "Traceback" not in said
    assert f"smtp://robot@127.0.0.1:{port}" in out.stderr and "outside ASCII" in out.stderr
    assert "Pässwort" not in said and "ä" not in said and "ß" not in said and "position" not in said
    assert inbox.messages == []
    assert one(held_demo_db, "SELECT count(*) FROM reminder_sent")[0] == 0


def test_without_a_user_the_messages_go_over_starttls_when_offered_and_plain_only_when_not(held_demo_db, tls_server,
                                                                                          smtp):
    someone = _someone(held_demo_db)
    offered = Inbox()
    with served(offered, tls_context=tls_server) as port:
        out = _notify_with(held_demo_db, f"smtp://127.0.0.1:{port}", "--only", someone)
    assert out.returncode == 0, out.stderr
    assert [r for r, _ in offered.messages] == [[someone]] and offered.encrypted == [True]

    # A relay that offers no STARTTLS still gets the message, in clear (the next week's, not sent yet).
    later = _notify_with(held_demo_db, smtp.url, "--only", someone, "--as-of", (AS_OF + timedelta(days=7)).isoformat())
    assert later.returncode == 0, later.stderr
    assert [r for r, _ in smtp.messages] == [[someone]] and smtp.encrypted == [False]


def test_without_a_user_a_starttls_certificate_that_fails_verification_stops_the_run(held_demo_db, tls_server,
                                                                                     monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")  # the server's self-signed certificate is no longer trusted
    inbox = Inbox()
    with served(inbox, tls_context=tls_server) as port:
        out = _notify_with(held_demo_db, f"smtp://127.0.0.1:{port}", "--only", _someone(held_demo_db))
    assert out.returncode != 0 and "could not be verified" in out.stderr and "Traceback" not in out.stderr
    assert inbox.messages == []


def test_a_delivery_that_cannot_be_recorded_is_reported_and_the_others_still_get_theirs(held_demo_db, smtp,
                                                                                        monkeypatch):
    from portfolio.domain.errors import StorageBusy
    from portfolio.storage import notify as notify_store

    with db.session(held_demo_db) as conn:
        planned = notify.plan(conn, AS_OF, notify.Settings())
    assert len(planned) >= 3
    victim = planned[1].person  # not the first: the ones after it must still go out
    record_sent = notify_store.record_sent

    def busy_for_the_victim(conn, person_id, *args, **kwargs):
        if person_id == victim.id:
            raise StorageBusy("The database stayed locked; try again in a moment.")
        return record_sent(conn, person_id, *args, **kwargs)

    monkeypatch.setattr(notify_store, "record_sent", busy_for_the_victim)
    out = notify_cli(held_demo_db, smtp)

    assert out.returncode != 0  # the scheduler hears about it
    assert "Traceback" not in out.stderr
    assert f"sent to {victim.email} but not recorded" in out.stderr and "locked" in out.stderr
    # Everyone got their email, the victim included (it was delivered before the record failed) ...
    delivered = sorted(r[0].lower() for r, _ in smtp.messages)
    assert delivered == sorted(p.person.email.lower() for p in planned)
    # ... and every one but the victim's is recorded, with its audit entry; the victim's is not, whole.
    with duckdb.connect(str(held_demo_db)) as c:
        recorded = {r[0] for r in c.execute("SELECT DISTINCT person_id FROM reminder_sent").fetchall()}
        audited = {r[0] for r in c.execute("SELECT entity_id FROM audit WHERE entity = 'reminder'").fetchall()}
    assert recorded == {p.person.id for p in planned} - {victim.id}
    assert {str(i) for i in audited} == {str(p.person.id) for p in planned} - {str(victim.id)}
