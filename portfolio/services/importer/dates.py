"""The date parser: a date cell as the date a person means, in the forms
spreadsheets write them; a date is never guessed."""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTHS |= {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS["sept"] = 9
_TIME = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_ISO = re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){_TIME}$")
_ISO_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_NUMERIC = re.compile(rf"^(\d{{1,2}})([/.\-])(\d{{1,2}})\2(\d{{4}}|\d{{2}}){_TIME}$")
_NUMERIC_MONTH = re.compile(r"^(\d{1,2})[/.\-](\d{4}|\d{2})$")
_NAMED_MONTH = re.compile(r"^([a-z]{3,9})\.?[\s\-/,']*(\d{4}|\d{2})$")
_DAY_NAMED = re.compile(r"^(\d{1,2})[\s\-/]([a-z]{3,9})\.?[\s\-/,]+(\d{4}|\d{2})$")
_NAMED_DAY = re.compile(r"^([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_SERIAL = re.compile(r"^\d+(?:\.\d+)?$")
_YEAR = re.compile(r"^(?:19|20|21)\d\d$")
# Excel counts days from 1899-12-30 (its 1900 leap-year bug included).
_EXCEL_EPOCH = date(1899, 12, 30)
SERIAL_RANGE = (20000, 80000)  # 1954-10-03 to 2119-01-10: a number outside is no date
FORMS = "2025-08-04, 8/4/2025, 4 Aug 2025, Aug-2025, 08/2025 or an Excel date"


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:  # as strptime's %y reads it
        year += 2000 if year < 69 else 1900
    return year


def _month(name: str) -> int:
    month = _MONTHS.get(name)
    if month is None:
        raise ValueError(f"'{name}' is not a month")
    return month


def parse_date(text: str, date_order: str = "mdy") -> tuple[date | None, str | None]:
    """A date cell as (date, note): blank is None; a month without a day is
    the first of that month, with a note saying so. Anything else raises
    ValueError saying why: a date is never guessed."""
    raw = (text or "").strip()
    if not raw:
        return None, None
    low = raw.lower()
    try:
        if m := _ISO.match(low):
            return date(int(m[1]), int(m[2]), int(m[3])), None
        if m := _NUMERIC.match(low):
            first, second, year = int(m[1]), int(m[3]), _year(m[4])
            month, day = (first, second) if date_order == "mdy" else (second, first)
            try:
                return date(year, month, day), None
            except ValueError:
                if month > 12 and day <= 12:
                    other = "day first (dmy)" if date_order == "mdy" else "month first (mdy)"
                    raise ValueError(f"month {month} does not exist; are the dates {other}?") from None
                raise
        if m := _DAY_NAMED.match(low):
            return date(_year(m[3]), _month(m[2]), int(m[1])), None
        if m := _NAMED_DAY.match(low):
            return date(int(m[3]), _month(m[1]), int(m[2])), None
        month_only = None
        if m := _ISO_MONTH.match(low):
            month_only = date(int(m[1]), int(m[2]), 1)
        elif m := _NUMERIC_MONTH.match(low):
            month_only = date(_year(m[2]), int(m[1]), 1)
        elif m := _NAMED_MONTH.match(low):
            month_only = date(_year(m[2]), _month(m[1]), 1)
        if month_only is not None:
            return month_only, f"month only: stored as the first of the month, {month_only}"
    except ValueError as exc:
        raise ValueError(f"'{raw}' is not a date ({exc})") from None
    if _YEAR.match(low):  # an inventory's year (below any Excel date number), said as a person reads it
        raise ValueError(f"'{raw}' is a year alone, with no month or day")
    if _SERIAL.match(low):
        serial = float(low)
        if not SERIAL_RANGE[0] <= serial <= SERIAL_RANGE[1]:
            raise ValueError(
                f"'{raw}' is a number, not a date (an Excel date number is between "
                f"{SERIAL_RANGE[0]} and {SERIAL_RANGE[1]})"
            )
        return _EXCEL_EPOCH + timedelta(days=int(serial)), None
    raise ValueError(f"'{raw}' is not a date; use {FORMS}")
