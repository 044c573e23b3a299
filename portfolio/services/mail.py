"""Sending email with the standard library: the SMTP server named by one URL
setting, ``PORTFOLIO_SMTP_URL``, and the sender ``PORTFOLIO_MAIL_FROM``.

- ``smtp://user:password@host:587``: STARTTLS, then sign in (the password
  URL-encoded where it holds ``@``, ``:`` or ``/``);
- ``smtps://user:password@host:465``: TLS from the start, then sign in;
- ``smtp://host:port`` without a user: STARTTLS when the server offers it
  (its certificate verified), plain when it does not, for a relay on this
  machine.

The password is kept out of every message, log line and error: errors name
the scheme, host, port and user only.
"""

from __future__ import annotations

import smtplib
import ssl
import urllib.parse
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr

from portfolio.domain.errors import InvalidInput
from portfolio.domain.settings import base_url

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
# Seconds a connection or one SMTP command may take before the send is given up.
SMTP_TIMEOUT = 30.0


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        """The server in words, without the password."""
        who = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}"


@dataclass(frozen=True)
class MailConfig:
    server: SmtpServer | None  # None: not configured (a dry run needs none)
    sender: str | None
    base_url: str


def parse_smtp_url(url: str) -> SmtpServer:
    """The server a ``PORTFOLIO_SMTP_URL`` names; InvalidInput naming the
    setting (never the password) when it cannot be used."""
    def bad(problem: str) -> InvalidInput:
        return InvalidInput(f"PORTFOLIO_SMTP_URL: {problem} (give smtp://user:password@host:587, "
                            "smtps://user:password@host:465 or smtp://host:port)", field="PORTFOLIO_SMTP_URL")

    try:
        parts = urllib.parse.urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise bad("its host or port cannot be read") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise bad(f"'{parts.scheme or '(none)'}' is not smtp or smtps")
    if not parts.hostname:
        raise bad("it names no host")
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    if password and not user:
        raise bad("it has a password but no user")
    return SmtpServer(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], user, password)


def load_config(env, *, need_server: bool) -> MailConfig:
    """The mail settings from ``env``; with ``need_server`` the SMTP URL and
    the sender must be set."""
    url = (env.get("PORTFOLIO_SMTP_URL") or "").strip()
    sender = (env.get("PORTFOLIO_MAIL_FROM") or "").strip() or None
    base = base_url(env)
    if need_server and not url:
        raise InvalidInput("PORTFOLIO_SMTP_URL is not set: give the mail server, e.g. "
                           "smtp://user:password@mail.example.com:587", field="PORTFOLIO_SMTP_URL")
    if need_server and not sender:
        raise InvalidInput("PORTFOLIO_MAIL_FROM is not set: give the sender, e.g. "
                           "Pilot portfolio <pilots@example.com>", field="PORTFOLIO_MAIL_FROM")
    if sender and "@" not in parseaddr(sender)[1]:
        raise InvalidInput(f"PORTFOLIO_MAIL_FROM: '{sender}' is not an email address", field="PORTFOLIO_MAIL_FROM")
    return MailConfig(parse_smtp_url(url) if url else None, sender, base)


class SendFailed(Exception):
    """One message not delivered; the text names the cause, never the password."""


class ServerUnusable(SendFailed):
    """The server could not be reached or refused the sign-in: no message
    of this run will get through."""


class Mailer:
    """One connection to the server for a run, opened on the first send and
    opened again if the server dropped it."""

    def __init__(self, server: SmtpServer, timeout: float = SMTP_TIMEOUT):
        self.server = server
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def _connect(self) -> smtplib.SMTP:
        s = self.server
        try:
            if s.scheme == "smtps":
                smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout,
                                        context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
                smtp.ehlo_or_helo_if_needed()
                # A password is never sent in clear: STARTTLS first, or no sign-in. Without a user the
                # messages still go encrypted when the server offers it, in clear only when it does not.
                if s.user or smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password or "")
        except UnicodeError:
            # smtplib sends the sign-in as ASCII; its error would quote the character and where it
            # stands in the password, so it is replaced by one that names neither.
            raise ServerUnusable(f"the sign-in of {s.user} to the mail server {s.where} could not be sent: "
                                 "the user or password holds a character outside ASCII, which the mail "
                                 "library cannot send (use a password of ASCII characters)") from None
        except smtplib.SMTPAuthenticationError as exc:
            raise ServerUnusable(f"the mail server {s.where} refused the sign-in of {s.user} "
                                 f"({exc.smtp_code})") from None
        except smtplib.SMTPNotSupportedError:
            raise ServerUnusable(f"the mail server {s.where} offers no STARTTLS, so the password is not sent "
                                 "(use smtps:// or a server that offers it)") from None
        except ssl.SSLCertVerificationError as exc:
            raise ServerUnusable(f"the mail server {s.where} sent a certificate that could not be verified "
                                 f"({exc.verify_message})") from None
        except smtplib.SMTPException as exc:
            raise ServerUnusable(f"the mail server {s.where} broke off the connection ({type(exc).__name__})") \
                from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ServerUnusable(f"the mail server {s.where} could not be reached: {reason}") from None
        return smtp

    def send(self, message: EmailMessage) -> None:
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                refused = self._smtp.send_message(message)
            except smtplib.SMTPServerDisconnected:
                self._smtp = None
                if attempt == 2:
                    raise SendFailed(f"the mail server {self.server.where} dropped the connection") from None
                continue
            except smtplib.SMTPRecipientsRefused as exc:
                codes = "; ".join(f"{addr}: {code} {_text(msg)}" for addr, (code, msg) in exc.recipients.items())
                raise SendFailed(f"the mail server refused the recipient ({codes})") from None
            except smtplib.SMTPResponseException as exc:
                raise SendFailed(f"the mail server refused the message: {exc.smtp_code} {_text(exc.smtp_error)}") \
                    from None
            except (smtplib.SMTPException, OSError) as exc:
                self._smtp = None
                raise SendFailed(f"the mail server {self.server.where} failed: {type(exc).__name__}") from None
            if refused:
                raise SendFailed(f"the mail server refused {', '.join(refused)}")
            return


def _text(value) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return " ".join(str(value).split())[:200]
