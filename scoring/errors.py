"""Domain errors raised by the scoring core.

The API maps these to HTTP statuses in one place (api/errors.py); the CLI prints them as one line
and exits non-zero. None of them carries personal data: they name files, columns and features.
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base class of every error the core raises on purpose."""


class DataValidationError(ScoringError):
    """A raw input table breaks the schema: names the file and the column at fault."""

    def __init__(self, file: str, column: str | None, message: str) -> None:
        self.file = file
        self.column = column
        self.message = message
        where = f"{file}, column {column}" if column else file
        super().__init__(f"{where}: {message}")


class BundleError(ScoringError):
    """A model bundle is missing, corrupt or written by an incompatible version."""


class BundleIntegrityError(BundleError):
    """A bundle file was edited, truncated, removed or added since the bundle was written, or
    the manifest that lists them does not verify: names the file at fault."""

    def __init__(self, bundle: str, file: str, message: str) -> None:
        self.file = file
        super().__init__(f"bundle {bundle}: {file} {message}")


class ImplausibleValueError(ScoringError):
    """A value is a number, but outside the documented valid range of its field."""

    def __init__(
        self,
        name: str,
        value: float,
        low: float | None,
        high: float | None,
        note: str = "",
        where: str = "",
    ) -> None:
        self.name = name
        self.value = value
        self.low = low
        self.high = high
        self.note = note
        valid = describe_range(low, high)
        more = f" ({note})" if note else ""
        at = f"{where}: " if where else ""
        super().__init__(f"{at}{name}: {value:g} is outside the valid range {valid}{more}")

    def at(self, where: str) -> ImplausibleValueError:
        """The same refusal, saying where it is (a batch's row: ``record 3``)."""
        return ImplausibleValueError(self.name, self.value, self.low, self.high, self.note, where)


def describe_range(low: float | None, high: float | None) -> str:
    """A range as a reader writes it: [0, 1], >= 0, <= 0."""
    if low is not None and high is not None:
        return f"[{_plain(low)}, {_plain(high)}]"
    if low is not None:
        return f">= {_plain(low)}"
    return f"<= {_plain(high)}" if high is not None else "(any number)"


def _plain(value: float) -> str:
    """1000000000 rather than 1e+09; fractions as %g."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e16 else f"{value:g}"


class UnknownFeatureError(ScoringError):
    """A record names features the model does not know."""

    def __init__(self, names: list[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"unknown features: {', '.join(self.names)}")


class InvalidFeatureValueError(ScoringError):
    """A feature value is not a finite number (or null)."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"feature {name}: {reason}")


class UnknownColumnError(ScoringError):
    """A what-if change names a raw column that does not exist or cannot be edited."""

    def __init__(self, names: list[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"unknown or non-editable columns: {', '.join(self.names)}")


class UnknownCandidateError(ScoringError):
    """A model comparison names a candidate that does not exist."""

    def __init__(self, names: list[str], known: list[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"unknown models: {', '.join(self.names)} (known: {', '.join(known)})")


class NotServableError(ScoringError):
    """A model that cannot be served (not exactly explainable) was asked to be the default."""

    def __init__(self, names: list[str], servable: list[str]) -> None:
        self.names = sorted(names)
        super().__init__(
            f"not servable as the default: {', '.join(self.names)} "
            f"(servable: {', '.join(servable)})"
        )
