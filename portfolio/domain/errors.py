"""The error types every layer raises and every entry point shows, and the
one way a pydantic validation error becomes a message that names the field."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from portfolio.domain.vocabulary import FIELD_LABELS

# --- errors ---------------------------------------------------------------


class PortfolioError(Exception):
    """An error a person can act on. ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:  # the message is the whole story
        return self.message


class InvalidInput(PortfolioError):
    """Bad input: nothing was written."""


class PermissionDenied(PortfolioError):
    """The signed-in person may not do this: nothing was written."""


class NotFound(PortfolioError):
    """The thing asked for does not exist."""


class StorageBusy(PortfolioError):
    """The database stayed locked or conflicted after the bounded retries."""


class StorageError(PortfolioError):
    """The database cannot be written: a read-only file or folder, a full
    disk, a failing device. Nothing of the refused write was saved."""


class EditConflict(InvalidInput):
    """Someone else saved the same record after this person opened it: their
    change is named in the message, and nothing of this save was written.
    ``conflicts`` lists the records (entity, key) that changed."""

    def __init__(self, message: str, field: str | None = None, conflicts: list | None = None):
        super().__init__(message, field)
        self.conflicts = list(conflicts or [])


def invalid_from(exc: ValidationError, labels: dict[str, str] | None = None) -> InvalidInput:
    """Turn pydantic's report into one message that names each field
    (``labels`` first: a model's own names for its fields)."""
    parts = []
    first_field = None
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p != "__root__"]
        field = loc[0] if loc else None
        first_field = first_field or field
        msg = err.get("msg", "is not valid")
        msg = msg.removeprefix("Value error, ")
        label = (labels or {}).get(field or "") or FIELD_LABELS.get(field or "", field or "")
        parts.append(f"{label}: {msg}" if label else msg)
    return InvalidInput("; ".join(parts), field=first_field)


def validate(model: type[BaseModel], /, **values) -> BaseModel:
    """Build ``model`` from ``values`` or raise InvalidInput naming the field.
    (``model`` is positional only: a form may well have a field called so.)"""
    try:
        return model(**values)
    except ValidationError as exc:
        problem = invalid_from(exc, getattr(model, "LABELS", None))
    # Raised outside the handler: the pydantic error (and the frames it holds) is let go.
    raise problem from None
