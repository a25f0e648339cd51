"""Refusals of the application layer: bad questions, bad credentials, reused keys."""

from __future__ import annotations

from collections.abc import Mapping

from events.errors import DomainError


class InvalidArguments(DomainError):
    """A request with bad parameters (a question's `at`, a token's name); `errors` names each."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


class InvalidCursor(DomainError):
    """A page cursor the service did not make."""

    def __init__(
        self, detail: str = "this cursor was not made by this service; start again without one"
    ) -> None:
        super().__init__(detail)


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key sent again with a different body."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"the Idempotency-Key {key!r} was already used with a different request body"
        )


class NotAuthenticated(DomainError):
    """No token, or one the service does not know."""


class ImportRejected(DomainError):
    """A line of an import file that cannot be imported; nothing of the file was written."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}; nothing was imported")


class TooMuchContention(DomainError):
    """Concurrent writers kept taking the version this append needed."""
