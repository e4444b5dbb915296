"""`POST /zoho/webhook`: what a Zoho workflow rule sends, turned into a job.

Zoho can send raw JSON, url-encoded or multipart form-data, or nothing but URL
parameters; this reads them all, body values winning over URL ones. The
shared secret comes in the `X-Webhook-Secret` header or a `secret` parameter.
Inputs missing here are read from the record when the job runs, so the
answer comes back at once.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any
from urllib.parse import parse_qsl

import structlog
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from pydantic import ValidationError

from integration import metrics
from integration.problems import problem, problem_responses
from integration.schemas import WebhookFields
from integration.services import Services
from storage.base import Job, JobInput, JobStatus, ZohoPush, new_job

log = structlog.get_logger()

WEBHOOK_PATH = "/zoho/webhook"
SECRET_HEADER = "x-webhook-secret"
# Zoho's merge fields may use either spelling.
ALIASES = {"record_id": "recordId", "client_name": "clientName"}


@post(
    WEBHOOK_PATH,
    status_code=202,
    tags=["zoho"],
    summary="Zoho workflow webhook",
    responses=problem_responses(400, 401, 404, 413, 422, 503),
)
async def zoho_webhook(
    request: Request[Any, Any, Any], services: NamedDependency[Services]
) -> Response[dict[str, Any]]:
    secret = services.settings.zoho_webhook_secret
    if secret is None:
        raise problem(404, "not-found", "The Zoho webhook is not configured.")

    values = {**_query_values(request), **await _body_values(request)}
    _check_secret(request, values, secret.get_secret_value())
    fields = _validated(values)
    if services.zoho is None:
        detail = "Zoho CRM credentials are not configured, so no draft can be made."
        raise problem(503, "zoho-not-configured", detail)

    job, duplicate = await _job_for(fields, services)
    body: dict[str, Any] = {"jobId": job.job_id, "status": job.status.value}
    if duplicate:
        body["duplicate"] = True
    return Response(body, status_code=202)


async def _job_for(fields: WebhookFields, services: Services) -> tuple[Job, bool]:
    """The job for this delivery: a live one inside the window, or a new one.

    A failed job does not absorb repeats: an admin who fixes the record and
    triggers the rule again gets a fresh job.
    """
    fingerprint = fields.fingerprint()
    earlier = await _live_job_from_last_window(fingerprint, services)
    if earlier is not None:
        log.info("webhook_duplicate", job_id=earlier.job_id)
        return earlier, True

    key = _window_key(fingerprint, services)
    job, created = await _create(_new_job(fields, fingerprint, key, services), services)
    if not created and job.status is JobStatus.FAILED:
        after_failure = f"{key}:after:{job.job_id}"
        candidate = _new_job(fields, fingerprint, after_failure, services)
        job, created = await _create(candidate, services)
    if not created:
        log.info("webhook_duplicate", job_id=job.job_id)

    return job, not created


async def _create(candidate: Job, services: Services) -> tuple[Job, bool]:
    job, created = await services.store.create(candidate)
    if created:
        log.info("job_queued", job_id=job.job_id, source="zoho")
        metrics.JOB_EVENTS.labels(event="queued").inc()
        await services.dispatcher.dispatch(job)
    return job, created


def _window_key(fingerprint: str, services: Services, offset: int = 0) -> str | None:
    """The de-duplication key of this delivery's time window; None when off."""
    window = services.settings.zoho_dedupe_window_seconds
    if window <= 0:
        return None
    return f"zoho:{fingerprint}:{int(time.time() // window) + offset}"


async def _live_job_from_last_window(
    fingerprint: str, services: Services
) -> Job | None:
    """A job of the previous window still inside the window's length, not failed."""
    key = _window_key(fingerprint, services, offset=-1)
    earlier = await services.store.get_by_key(key) if key else None
    if earlier is None or earlier.status is JobStatus.FAILED:
        return None

    age = time.time() - earlier.created_at.timestamp()
    return earlier if age < services.settings.zoho_dedupe_window_seconds else None


def _new_job(
    fields: WebhookFields, fingerprint: str, key: str | None, services: Services
) -> Job:
    return new_job(
        JobInput(
            country=fields.country or "",
            occupation=fields.occupation or "",
            client_name=fields.client_name or "",
            language=fields.language or "en",
            tone=fields.tone or "warm",
            client_email=fields.email,
        ),
        source="zoho",
        zoho=ZohoPush(module=fields.module, record_id=fields.record_id),
        idempotency_key=key,
        request_hash=fingerprint,
        available_in=services.dispatcher.initial_delay,
    )


def _check_secret(
    request: Request[Any, Any, Any], values: dict[str, str], expected: str
) -> None:
    given = request.headers.get(SECRET_HEADER) or values.get("secret") or ""
    if hmac.compare_digest(given.encode(), expected.encode()):
        return

    log.warning("webhook_rejected", reason="bad secret" if given else "no secret")
    raise problem(401, "bad-webhook-secret", "The webhook secret is missing or wrong.")


def _validated(values: dict[str, str]) -> WebhookFields:
    renamed = {ALIASES.get(name, name): value for name, value in values.items()}
    try:
        return WebhookFields.model_validate(renamed)
    except ValidationError as exc:
        # The same problem shape as every other validation error.
        errors = [
            {"key": ".".join(map(str, error["loc"])), "message": error["msg"]}
            for error in exc.errors()
        ]
        raise ValidationException("Invalid webhook fields.", extra=errors) from None


def _query_values(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in request.query_params.items()}


async def _body_values(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The body's name/value pairs, whatever form Zoho sent them in."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw = await request.body()
    if not raw:
        return {}
    if media_type == "multipart/form-data":
        form = await request.form()
        return {name: value for name, value in form.items() if isinstance(value, str)}

    text = _decoded(raw)
    if media_type == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    return _json_values(text)


def _decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise problem(400, "malformed-body", "The body is not valid UTF-8.") from None


def _json_values(text: str) -> dict[str, str]:
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise problem(400, "malformed-body", "The body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise problem(400, "malformed-body", "The JSON body must be an object.")

    return {
        name: _as_text(value)
        for name, value in payload.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }


def _as_text(value: str | int | float) -> str:
    # Record ids arrive as numbers when a template leaves them unquoted.
    return value if isinstance(value, str) else json.dumps(value)
