"""Who is acting: the signed-in person behind the app (local mode or the
trusted header a sign-in proxy sets) and behind the command line
(PORTFOLIO_USER). Anyone who matches no active person is a viewer."""

from __future__ import annotations

import hmac
import ipaddress
import os

from portfolio.domain.models import Actor
from portfolio.domain.vocabulary import Role
from portfolio.storage import store


def local_mode_allowed(setting: str | None) -> bool:
    """Local mode (act as anyone, for one machine) is on unless turned off
    with PORTFOLIO_LOCAL_MODE set to off, false, no or 0."""
    return (setting or "on").strip().lower() not in ("off", "false", "no", "0")


def serves_loopback_only(address: str | None) -> bool:
    """Whether Streamlit's ``server.address`` lets only this machine in: a
    loopback address, ``localhost`` or a Unix socket. Unset or empty means
    every interface; any other name could resolve to anything."""
    address = (address or "").strip()
    if not address:
        return False
    if address.startswith("unix://") or address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


# The header in which the proxy in front of the app sends the shared secret
# of PORTFOLIO_TRUSTED_HEADER_SECRET, when that is set.
PROXY_SECRET_HEADER = "X-Portfolio-Proxy-Secret"


def _header_values(headers, name: str) -> list[str]:
    """Every value sent for ``name``: Streamlit's headers keep repeats
    (``get_all``); a plain mapping has at most one."""
    if headers is None:
        return []
    if hasattr(headers, "get_all"):
        return list(headers.get_all(name))
    value = headers.get(name)
    return [] if value is None else [value]


def trusted_header_problem(headers, header: str, secret: str | None = None) -> str | None:
    """Why the trusted header cannot be believed for this request, or None.

    A header sent more than once means a proxy added its copy to the
    client's instead of replacing it, and the client's would win. With a
    shared secret set, the request must carry it in PROXY_SECRET_HEADER,
    exactly once, or it did not come through the proxy. The messages never
    contain the secret."""
    if len(_header_values(headers, header)) > 1:
        return (f"The {header} header came more than once, so who you are is unclear: you can read, not write. "
                "Whoever runs the proxy must make it replace the header the client sent, not add another.")
    if secret:
        sent = _header_values(headers, PROXY_SECRET_HEADER)
        if len(sent) != 1 or not hmac.compare_digest(sent[0].encode(), secret.encode()):
            return ("This request did not come through the sign-in proxy (its shared secret is missing or wrong): "
                    "you can read, not write. Open the app at the proxy's address.")
    return None


def actor_for_header(conn, headers, header: str, secret: str | None = None) -> Actor:
    """Trusted-header sign-in: the proxy in front of the app puts the
    signed-in email in ``header`` (replacing any the client sent). An email
    that matches no active person, no header, a repeated header or a missing
    or wrong shared secret (see trusted_header_problem) is a viewer."""
    if trusted_header_problem(headers, header, secret):
        return Actor(person_id=None, name="anonymous", email=None, role=Role.VIEWER)
    values = _header_values(headers, header)
    value = values[0] if values else None
    email = value.strip() if isinstance(value, str) and value.strip() else None
    found = actor_for_email(conn, email)
    if found is not None:
        return found
    return Actor(person_id=None, name=email or "anonymous", email=email, role=Role.VIEWER)


def actor_for_email(conn, email: str | None) -> Actor | None:
    """The acting person for a signed-in email, compared case-insensitively.
    An inactive person acts as a viewer; no match gives None."""
    if not email:
        return None
    person = store.find_person_by_email(conn, email)
    return Actor.of(person) if person else None


def command_line_actor(conn) -> Actor:
    """Who the command line acts as: the person whose email is in
    PORTFOLIO_USER (an inactive one acts as a viewer); unset or matching
    nobody, a viewer with no person id, who may read but not write."""
    email = (os.environ.get("PORTFOLIO_USER") or "").strip() or None
    acting = actor_for_email(conn, email) or Actor(
        person_id=None, name=email or "command line", email=email, role=Role.VIEWER)
    return acting.model_copy(update={"via": "command line"})
