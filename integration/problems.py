"""Every error answered as RFC 9457 problem details, mapped in this one place."""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import structlog
from litestar import Request, Response
from litestar.enums import ParamType
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from pydantic.alias_generators import to_camel

from integration.errors import ServiceError
from storage.base import StorageError

log = structlog.get_logger()

PROBLEM_BASE = "/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class Problem:
    """An RFC 9457 problem, as every error of this API is answered."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


def problem_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the problems a route can answer with."""
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=HTTPStatus(status).phrase if status != 489 else "Give up",
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for status in statuses
    }


STORE_RETRY_AFTER_SECONDS = 5


def problem(
    status: int,
    slug: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemDetailsException:
    """A problem response with our `type` URI and the status's own title."""
    return ProblemDetailsException(
        status_code=status,
        type_=PROBLEM_BASE + slug,
        title=HTTPStatus(status).phrase,
        detail=detail,
        headers=headers,
        extra=extra or None,
    )


def _from_http_exception(exc: HTTPException) -> ProblemDetailsException:
    slug = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "-")
    detail = exc.detail or HTTPStatus(exc.status_code).phrase
    headers = dict(exc.headers or {})
    if exc.status_code == 429 and "RateLimit-Reset" in headers:
        # The rate limiter says when the window resets; clients look for this.
        headers.setdefault("Retry-After", str(max(1, int(headers["RateLimit-Reset"]))))
    return problem(exc.status_code, slug, detail, headers=headers)


def _from_validation(exc: ValidationException) -> ProblemDetailsException:
    items = exc.extra if isinstance(exc.extra, list) else []
    if not items:
        # Litestar raises this for a body it could not decode at all.
        return problem(400, "malformed-body", str(exc.detail))

    errors = [
        {"field": _field_name(item), "message": _plain(item.get("message"))}
        for item in items
        if isinstance(item, dict)
    ]
    named = ", ".join(error["field"] for error in errors)
    return problem(422, "validation-error", f"Invalid input: {named}.", errors=errors)


def _field_name(item: dict[str, Any]) -> str:
    """The field as the client named it, e.g. `createdFrom`, not `created_from`.

    Litestar reports query parameters by their Python names; body fields
    already carry the model's camelCase aliases and are left alone.
    """
    key = str(item.get("key") or "body")
    if item.get("source") == ParamType.QUERY and "_" in key:
        return to_camel(key)
    return key


def _plain(message: object) -> str:
    # pydantic prefixes messages from our own validators with "Value error, ".
    return str(message).removeprefix("Value error, ")


def _from_service_error(exc: ServiceError) -> ProblemDetailsException:
    if isinstance(exc, StorageError):
        log.warning("store_unavailable", error=exc.message)
        return problem(
            503,
            "store-unavailable",
            "The job store is not answering; try again shortly.",
            headers={"Retry-After": str(STORE_RETRY_AFTER_SECONDS)},
        )

    log.error("service_error", code=exc.code, error=exc.message)
    return problem(500, "internal-error", "The service failed; the error was logged.")


def unhandled_exception(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[Any]:
    """The last resort: log the traceback once and answer a plain 500 problem."""
    log.exception("request_failed", method=request.method, path=request.url.path)
    detail = "The service failed unexpectedly; the error was logged."
    return problem(500, "internal-error", detail).to_response(request)


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                HTTPException: _from_http_exception,
                ValidationException: _from_validation,
                ServiceError: _from_service_error,
            }
        )
    )
