"""The writer contract: what goes into an e-mail and what comes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

SUPPORTED_LANGUAGES = ("en", "fr", "de", "es", "pt")
SUPPORTED_TONES = ("warm", "formal", "concise")


@dataclass(frozen=True)
class EmailRequest:
    """The client's details an e-mail is written from; every value is data."""

    client_name: str
    country: str
    occupation: str
    language: str = "en"
    tone: str = "warm"

    @property
    def first_name(self) -> str:
        """The first word of the client's name, or "" when there is none."""
        parts = self.client_name.split()
        return parts[0] if parts else ""


@dataclass(frozen=True)
class Email:
    """A finished e-mail: the subject and the plain-text body a person would send."""

    subject: str
    body: str
    provider: str
    model: str
    usage: dict[str, int] | None = None
    notes: list[str] = field(default_factory=list)


class Writer(Protocol):
    """Anything that turns an `EmailRequest` into an `Email`."""

    provider: str
    model: str

    async def write(self, request: EmailRequest, feedback: str | None = None) -> Email:
        """Write one e-mail; `feedback` says what a previous draft got wrong."""
        ...

    async def aclose(self) -> None:
        """Release network clients; a no-op for writers that hold none."""
        ...
