"""The business case at production volume (seed 004: "the marginal cost of
inference glossed over"): a pilot's expected monthly value beside the
monthly running cost it would have in production.

The value is an amount with its unit: money in a currency (a three-letter
code such as EUR) or hours saved. The running cost is the latest
cost-per-transaction reading times the expected monthly volume, in the
currency the cost KPI's unit begins with ("EUR", "EUR/claim", "€ per
claim"). Hours are compared as money at the settings' cost of an hour
(``hour_cost`` in ``hour_cost_currency``); amounts in two different
currencies are not compared (the tracker converts no currency).

The WEAK_BUSINESS_CASE rule (flags/rules.py) says the same in SQL; this
module is what the pages and the form use, and the two are tested against
each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HOURS = "hours"

# The currency signs people type, as the code they stand for.
# (flags/rules.py reads the same signs.)
CURRENCY_SIGNS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR"}
_HOUR_WORDS = {"h", "hr", "hrs", "hour", "hours", "hourssaved", "hourspermonth"}
_CODE = re.compile(r"^[A-Z]{3}$")
# The currency a cost KPI's unit begins with: a sign, or three letters
# standing alone ("EUR", "EUR/claim", "eur per claim"), not the start of a
# longer word ("cents").
_UNIT_CURRENCY = re.compile(r"^\s*(?:([€$£¥₹])|([A-Za-z]{3})(?![A-Za-z]))")


def value_unit(text: str | None) -> str:
    """A value's unit as stored: '' (none), 'hours', or a currency code in
    capitals ("eur" and "€" are EUR). Anything else is refused, saying what
    is taken."""
    raw = " ".join(str(text or "").split())
    if not raw:
        return ""
    if re.sub(r"[^a-z]", "", raw.lower()) in _HOUR_WORDS:
        return HOURS
    if raw in CURRENCY_SIGNS:
        return CURRENCY_SIGNS[raw]
    if _CODE.match(raw.upper()):
        return raw.upper()
    raise ValueError(f"'{raw}' is neither hours nor a currency code such as EUR or USD")


def cost_currency(unit: str | None) -> str | None:
    """The currency a cost-per-transaction KPI's unit is in (None when it
    names none)."""
    m = _UNIT_CURRENCY.match(unit or "")
    if not m:
        return None
    return CURRENCY_SIGNS[m[1]] if m[1] else m[2].upper()


def amount(value: float) -> str:
    """An amount as people read it: thousands separated, whole above 100
    ("12,400"), two decimals below ("0.45")."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def describe_value(value: float, unit: str) -> str:
    """ "9,000 EUR a month", "150 hours a month"."""
    return f"{amount(value)} {unit} a month"


@dataclass(frozen=True)
class BusinessCase:
    """The pilot's monthly cost at production volume beside its value."""

    cost: float | None              # projected monthly running cost (None: no volume or no cost reading)
    cost_currency: str | None       # the currency the cost is in (None: its unit names none)
    value: float | None             # the expected monthly value as stated
    value_unit: str                 # its unit: a currency code or 'hours'
    value_money: float | None       # the value in money (hours at the cost of an hour)
    value_currency: str | None

    @property
    def comparable(self) -> bool:
        return (self.cost is not None and self.value_money is not None
                and self.cost_currency is not None and self.cost_currency == self.value_currency)

    def weak(self, share: float = 1.0) -> bool:
        """Whether the projected cost exceeds ``share`` of the value."""
        return self.comparable and self.cost > share * self.value_money

    def verdict(self, share: float = 1.0) -> str:
        """One sentence on cost against value, in words."""
        if self.value is None:
            return "No expected monthly value stated: the business case cannot be weighed."
        if self.cost is None:
            return ("No projected running cost yet: it needs an expected monthly volume and a reading of a "
                    "cost-per-transaction KPI.")
        if self.cost_currency is None:
            return "The cost-per-transaction KPI's unit names no currency, so its cost is not weighed against the value."
        if not self.comparable:
            return (f"The cost is in {self.cost_currency} and the value in {self.value_currency}: the tracker "
                    "converts no currency, so they are not weighed against each other.")
        cost = describe_value(self.cost, self.cost_currency)
        value = self.value_text()
        if self.weak(share):
            return f"Projected cost {cost} exceeds {_share(share)}the expected value {value}."
        return f"Projected cost {cost} is within {_share(share)}the expected value {value}."

    def value_text(self) -> str:
        if self.value is None:
            return ""
        text = describe_value(self.value, self.value_unit)
        if self.value_unit == HOURS and self.value_money is not None:
            text += f" ({amount(self.value_money)} {self.value_currency} at the cost of an hour)"
        return text


def _share(share: float) -> str:
    return "" if share == 1 else f"{share * 100:g} % of "


def business_case(cost: float | None, cost_unit: str | None, value: float | None, unit: str,
                  hour_cost: float, hour_cost_currency: str) -> BusinessCase:
    if value is None:
        money, currency = None, None
    elif unit == HOURS:
        money, currency = value * hour_cost, hour_cost_currency
    else:
        money, currency = value, unit or None
    return BusinessCase(cost=cost, cost_currency=cost_currency(cost_unit) if cost is not None else None,
                        value=value, value_unit=unit, value_money=money, value_currency=currency)
