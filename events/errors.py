"""The ways a request about an organisation's history can be refused."""

from __future__ import annotations

from collections.abc import Mapping


class DomainError(Exception):
    """Base class for every refusal the domain and the application can give."""


class InvalidEvent(DomainError):
    """An event that the contract does not accept; `errors` names each bad field."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.errors.items()))


class OrganisationNotFound(DomainError):
    """No event has been recorded for this organisation id."""

    def __init__(self, organisation: str) -> None:
        self.organisation = organisation
        super().__init__(f"there is no organisation {organisation!r}")


class EventNotFound(DomainError):
    """No event with this id is stored for this organisation."""

    def __init__(self, organisation: str, event_id: str) -> None:
        self.organisation = organisation
        self.event_id = event_id
        super().__init__(f"organisation {organisation!r} has no event {event_id!r}")


class PersonNotFound(DomainError):
    """No office holder with this person id appears in any history."""

    def __init__(self, person: str) -> None:
        self.person = person
        super().__init__(f"there is no person {person!r}")


class VersionMismatch(DomainError):
    """The organisation's stream is not at the version the writer expected."""

    def __init__(self, organisation: str, expected: int, actual: int) -> None:
        self.organisation = organisation
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"organisation {organisation!r} is at version {actual}, not {expected} as expected"
        )
