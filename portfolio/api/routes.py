"""The routes: each parses the request, turns its token into the person
acting, calls one service and answers JSON (or iCalendar).

- No token, an unknown or revoked one, or one whose holder is inactive:
  401, with no data. The API token goes in ``Authorization: Bearer ...``.
- A refusal by a service: its message and the field at fault, as
  ``{"error": {"status", "message", "field"}}`` with the matching status
  (422 bad input, 403 not allowed, 404 not found, 409 edited meanwhile,
  413 a body over 64 KB, 503 the database busy or unwritable: in general
  words, never its path).
- The token is checked before anything else: the body is read (at most
  64 KB, refused by its Content-Length first) and parsed only for a live
  token, and a request without a plausible token never opens the database.
- The calendar token travels in the address (calendar clients cannot sign
  in); an unknown or rotated one is a 404, as if the address never was.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import duckdb
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portfolio.api import openapi
from portfolio.domain.errors import (
    EditConflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PortfolioError,
    StorageBusy,
    StorageError,
)
from portfolio.domain.models import check_date_range, check_id
from portfolio.domain.settings import db_path, load_settings
from portfolio.domain.tokens import Purpose, plausible
from portfolio.services import tokens, updates
from portfolio.services.reporting import calendar, records
from portfolio.storage import db

API = "/api"

# The largest request body taken (a weekly update is a few kilobytes).
MAX_BODY_BYTES = 64 * 1024

_STATUS = [(EditConflict, 409), (InvalidInput, 422), (PermissionDenied, 403), (NotFound, 404),
           (StorageBusy, 503), (StorageError, 503)]


class Unauthorized(Exception):
    """No usable token: answered 401, with nothing read."""


def error(status: int, message: str, field: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message, "field": field}}, status_code=status,
                        headers=headers)


def _status(exc: PortfolioError) -> int:
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)


def _bearer(request: Request) -> str | None:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _as_of(request: Request) -> date:
    """The day to compute for: ``?as_of=YYYY-MM-DD``, today by default."""
    text = request.query_params.get("as_of")
    if not text:
        return date.today()
    try:
        return check_date_range(date.fromisoformat(text))
    except ValueError:
        raise InvalidInput(f"As of: '{text}' is not a date (YYYY-MM-DD) the tracker takes", field="as_of") from None


def _pilot_id(request: Request) -> int:
    text = request.path_params["pilot_id"]
    try:
        return check_id(int(text))
    except ValueError:
        raise NotFound(f"There is no pilot with id {text!r}", field="pilot_id") from None


# What a caller is told when the database cannot answer: never its path
# nor the driver's words (an unauthenticated caller may be the one asking).
UNAVAILABLE = "The tracker's database is busy or unavailable just now; nothing was read or saved. Try again shortly."

# How long a caller told 503 should wait before trying again, in seconds.
RETRY_AFTER_SECONDS = 30


class TooLarge(Exception):
    """A body over MAX_BODY_BYTES: answered 413, with no more of it read."""


def _unauthorized() -> JSONResponse:
    return error(401, "Send a live API token of an active person: Authorization: Bearer <token>. "
                      "Make one on the People page.", headers={"WWW-Authenticate": 'Bearer realm="portfolio"'})


def _unavailable() -> JSONResponse:
    return error(503, UNAVAILABLE, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _actor(conn, token: str):
    actor = tokens.actor_for_token(conn, token, Purpose.API)
    if actor is None:
        raise Unauthorized()
    return actor


async def _answer(request: Request, work, *, status: int = 200, body: bool = False) -> Response:
    """Run ``work(conn, actor, payload)`` for the person behind the bearer
    token, in a worker thread (DuckDB blocks), and answer its result as JSON.

    The token is checked first: without one that could be ours, nothing is
    read and the database is not opened; with one, it is looked up before
    the body is read (at most MAX_BODY_BYTES of it) and parsed, so a caller
    without a live token learns nothing from a bad body."""
    token = _bearer(request)
    try:
        if not plausible(token):
            raise Unauthorized()
        payload = None
        if body:
            def check():
                with db.session(db_path()) as conn:
                    _actor(conn, token)

            await run_in_threadpool(check)
            payload = _parse_json(await _read_body(request))

        def job():
            with db.session(db_path()) as conn:
                return work(conn, _actor(conn, token), payload)

        result = await run_in_threadpool(job)
    except Unauthorized:
        return _unauthorized()
    except TooLarge:
        return error(413, f"The body is larger than {MAX_BODY_BYTES // 1024} KB; a weekly update is a few KB")
    except (StorageBusy, StorageError):
        return _unavailable()
    except PortfolioError as exc:
        return error(_status(exc), exc.message, exc.field)
    except duckdb.Error as exc:
        if db.storage_error(exc, None) is None:
            raise
        return _unavailable()
    return JSONResponse(result, status_code=status)


async def _read_body(request: Request) -> bytes:
    """The body, refused (TooLarge) by its declared length before any of it
    is read, and cut off as soon as more than MAX_BODY_BYTES arrive."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > MAX_BODY_BYTES:
                raise TooLarge()
        except ValueError:
            raise InvalidInput("Content-Length: not a number of bytes") from None
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise TooLarge()
    return bytes(raw)


def _parse_json(raw: bytes) -> dict:
    try:
        payload = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("The body is not JSON: send a JSON object with Content-Type: application/json") from None
    if not isinstance(payload, dict):
        raise InvalidInput("The body must be a JSON object (health, summary, blockers, next_steps, readings)")
    return payload


# --- the API ------------------------------------------------------------------


async def me(request: Request) -> Response:
    return await _answer(request, lambda conn, actor, _: {
        "name": actor.name, "email": actor.email, "role": actor.role.value})


async def list_pilots(request: Request) -> Response:
    def work(conn, actor, _):
        as_of = _as_of(request)
        return {"as_of": as_of.isoformat(), "pilots": records.pilots(conn, as_of, load_settings())}
    return await _answer(request, work)


async def one_pilot(request: Request) -> Response:
    def work(conn, actor, _):
        as_of = _as_of(request)
        return {"as_of": as_of.isoformat(), "pilot": records.pilot(conn, _pilot_id(request), as_of, load_settings())}
    return await _answer(request, work)


async def list_flags(request: Request) -> Response:
    def work(conn, actor, _):
        as_of = _as_of(request)
        return {"as_of": as_of.isoformat(), "flags": records.flags(conn, as_of, load_settings())}
    return await _answer(request, work)


async def list_updates(request: Request) -> Response:
    def work(conn, actor, _):
        pilot_id = _pilot_id(request)
        return {"pilot_id": pilot_id, "updates": records.updates(conn, pilot_id)}
    return await _answer(request, work)


async def post_update(request: Request) -> Response:
    """Post this week's update (with today's KPI readings) through the same
    service as the Weekly update page: its rights, its rules, its audit
    trail (recorded as coming from the API)."""
    def work(conn, actor, payload):
        pilot_id = _pilot_id(request)
        values = dict(payload)
        if "pilot_id" in values:
            raise InvalidInput("pilot_id: the pilot is named by the address, not the body", field="pilot_id")
        readings = values.pop("readings", None)
        if readings is not None and not (isinstance(readings, list) and all(isinstance(r, dict) for r in readings)):
            raise InvalidInput("Readings: a list of objects {kpi_id, value, note}", field="readings")
        today = date.today()  # updates are posted for the current week only, as on the page
        update_id, revision = updates.post_weekly_update(conn, actor, values | {"pilot_id": pilot_id}, today,
                                                         readings)
        posted = next(u for u in records.updates(conn, pilot_id) if u["id"] == update_id)
        return {"pilot_id": pilot_id, "update": posted, "revision": revision}
    return await _answer(request, work, status=201, body=True)


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi.spec())


async def not_an_endpoint(request: Request) -> Response:
    return error(404, f"No such endpoint: {request.method} {request.url.path} (see {API}/openapi.json)")


# --- the calendar feeds -------------------------------------------------------


def _base_url(request: Request) -> str:
    """The app's address as the calendar client reached it, for the links
    in each event."""
    return str(request.base_url).rstrip("/")


async def _feed(request: Request, whole: bool) -> Response:
    token = request.path_params["token"]
    base = _base_url(request)
    gone = Response("No calendar at this address.", status_code=404, media_type="text/plain")
    if not plausible(token):
        return gone  # not one of ours: the database is not asked

    def job():
        with db.session(db_path()) as conn:
            person = tokens.holder(conn, token, Purpose.CALENDAR)
            if person is None:
                return None
            return calendar.feed(conn, as_of=date.today(), stamp=datetime.now(timezone.utc),
                                 person=None if whole else person,
                                 base_url=base)

    try:
        ics = await run_in_threadpool(job)
    except (StorageBusy, StorageError):
        return Response(UNAVAILABLE, status_code=503, media_type="text/plain",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    except PortfolioError as exc:
        return Response(exc.message, status_code=_status(exc), media_type="text/plain")
    if ics is None:
        # Never say whether the token once was: a rotated link is simply gone.
        return gone
    name = "portfolio.ics" if whole else "my-pilots.ics"
    return Response(ics, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "private, no-store"})


async def my_calendar(request: Request) -> Response:
    return await _feed(request, whole=False)


async def portfolio_calendar(request: Request) -> Response:
    return await _feed(request, whole=True)


def routes() -> list[Route]:
    return [
        Route(f"{API}/openapi.json", openapi_json, methods=["GET"]),
        Route(f"{API}/me", me, methods=["GET"]),
        Route(f"{API}/pilots", list_pilots, methods=["GET"]),
        Route(f"{API}/pilots/{{pilot_id}}", one_pilot, methods=["GET"]),
        Route(f"{API}/pilots/{{pilot_id}}/updates", list_updates, methods=["GET"]),
        Route(f"{API}/pilots/{{pilot_id}}/updates", post_update, methods=["POST"]),
        Route(f"{API}/flags", list_flags, methods=["GET"]),
        Route(f"{API}/{{rest:path}}", not_an_endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
        Route("/calendar/{token}/mine.ics", my_calendar, methods=["GET"]),
        Route("/calendar/{token}/portfolio.ics", portfolio_calendar, methods=["GET"]),
    ]
