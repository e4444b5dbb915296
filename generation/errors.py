"""Errors raised while writing an e-mail."""

from __future__ import annotations

from integration.errors import ServiceError


class GenerationError(ServiceError):
    """Writing the e-mail failed; `retryable` says whether another try can help.

    `retry_after` is the wait in seconds the model server asked for, if any.
    """

    code = "generation_failed"
    retry_after: float | None = None


class ContentCheckError(GenerationError):
    """A written e-mail broke a content rule; the code names the rule."""

    retryable = False
