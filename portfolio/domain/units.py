"""The organisation's business units, as admins keep them: one spelling per
unit, matched without regard to case, so that "sales" and "Sales" are one
unit. The pilot's form, its services and the importer all match a typed unit
here; the facts (the kept units) are passed in.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from portfolio.domain.errors import InvalidInput

# Where an admin keeps the list, for the words of a refusal.
KEPT_ON = "People page (Business units)"


def key(text: str | None) -> str:
    """What two spellings of one unit share: the text without surrounding or
    repeated spaces, in lower case."""
    return " ".join((text or "").split()).lower()


def match(known: Iterable[str], text: str | None) -> str | None:
    """The kept spelling of ``text`` among ``known`` units, or None when it
    is not one of them (a blank text is no unit: None)."""
    wanted = key(text)
    if not wanted:
        return None
    for name in known:
        if key(name) == wanted:
            return name
    return None


def kept_spelling(spellings: Iterable[str]) -> dict[str, str]:
    """For spellings found in use (one entry per pilot), the spelling each
    unit keeps, by key: the most common one, and of equally common ones the
    first in alphabetical order (capitals first: "Sales" before "sales")."""
    counts = Counter(s for s in spellings if key(s))
    best: dict[str, str] = {}
    for spelling, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        best.setdefault(key(spelling), spelling)
    return best


def check_pilot_unit(offered: Iterable[str], text: str | None, current: str | None = None) -> str:
    """The unit a pilot is saved with: blank (no unit), the unit it already
    has (kept even when the unit has been retired since), or one of the
    ``offered`` units, in its kept spelling. Anything else is refused,
    naming the field."""
    typed = " ".join((text or "").split())
    if not typed:
        return ""
    if current and key(current) == key(typed):
        return current
    found = match(offered, typed)
    if found is None:
        raise InvalidInput(
            f"Business unit: '{typed}' is not one of the organisation's units; an admin adds units on the "
            f"{KEPT_ON}",
            field="business_unit",
        )
    return found
