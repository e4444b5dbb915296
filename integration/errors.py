"""The error base every package builds on.

    ServiceError                      (integration)  retryable: bool
     +- InputError                    bad input from a caller; never retryable
     +- StorageError                  (storage)      the job store failed
     +- GenerationError               (generation)   writing the e-mail failed
     |   +- ContentCheckError         the e-mail broke a content rule
     +- ZohoError                     (zoho)         a Zoho CRM call failed

Each carries a stable `code` for machine use and a message a person can act on.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every error the service raises on purpose."""

    retryable: bool = False
    code: str = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, retryable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"retryable={self.retryable!r})"
        )


class InputError(ServiceError):
    """The inputs of a job cannot make an e-mail; fixing the data is the only cure."""

    code = "invalid_input"
