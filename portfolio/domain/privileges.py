"""Borrowed privileges measured against the pilot's clock. Pure: the go/no-go
date is passed in."""

from __future__ import annotations

from datetime import date

from portfolio.domain.models import Privilege


def expires_before_decision(privilege: Privilege, go_no_go: date | None) -> bool:
    """Whether the privilege runs out before the go/no-go date: the pilot
    would be judged without it. No expiry, or no decision date, is not."""
    return bool(privilege.expires and go_no_go and privilege.expires < go_no_go)


def expiring(privileges: list[Privilege], go_no_go: date | None) -> list[Privilege]:
    """The privileges that run out before the go/no-go date, in their order."""
    return [p for p in privileges if expires_before_decision(p, go_no_go)]
