"""The REST API: submit a job, read its status, list jobs."""

from __future__ import annotations

from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import (
    FromPath,
    HeaderParameter,
    JSONBody,
)

from integration import metrics
from integration.auth import caller_id, require_api_key
from integration.problems import problem, problem_responses
from integration.schemas import JobRequest, queued_view, status_view
from integration.services import Services
from integration.settings import Settings
from storage.base import Job, JobFilter, JobStatus, ZohoPush, new_job

log = structlog.get_logger()

UNFINISHED_RETRY_AFTER = "2"
MAX_IDEMPOTENCY_KEY_LENGTH = 255
QUEUE_FULL_RETRY = "30"


async def require_json(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Refuse bodies that are not plain UTF-8 JSON (415) and empty bodies (400)."""
    declared = connection.headers.get("content-type", "")
    media_type, _, parameters = declared.partition(";")
    charset = parameters.strip().lower().removeprefix("charset=").strip('"')
    encoding = connection.headers.get("content-encoding", "identity").lower()
    if (
        media_type.strip().lower() != "application/json"
        or charset not in ("", "utf-8", "utf8")
        or encoding != "identity"
    ):
        detail = (
            f"Send the body as uncompressed UTF-8 application/json, not {declared!r}."
        )
        raise problem(415, "unsupported-media-type", detail)

    if isinstance(connection, Request) and not await connection.body():
        raise problem(
            400, "malformed-body", "The request body is empty; send a JSON object."
        )


class JobController(Controller):
    path = "/ai/generatejobopportunities"
    tags = ["jobs"]
    security = [{"apiKey": []}, {"apiKeyHeader": []}]

    @post(
        "/",
        status_code=202,
        guards=[require_api_key, require_json],
        summary="Queue an e-mail for a client",
        responses=problem_responses(400, 401, 413, 415, 422, 429, 503),
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[JobRequest],
        services: NamedDependency[Services],
        idempotency_key: Annotated[
            str | None, HeaderParameter(name="Idempotency-Key", required=False)
        ] = None,
    ) -> Response[dict[str, Any]]:
        _check_idempotency_key(idempotency_key)
        submitter = caller_id(request)
        await _check_queue_cap(services, submitter)
        candidate = new_job(
            data.to_job_input(),
            source="api",
            submitted_by=submitter,
            zoho=_push_target(data, services),
            # Namespaced, so webhook de-duplication keys can never collide.
            idempotency_key=f"api:{idempotency_key}" if idempotency_key else None,
            request_hash=data.fingerprint(),
            available_in=services.dispatcher.initial_delay,
        )
        job, created = await services.store.create(candidate)
        if not created and job.request_hash != candidate.request_hash:
            detail = "This Idempotency-Key was already used with a different body."
            raise problem(422, "idempotency-key-reused", detail)

        headers = _status_headers(job)
        if created:
            log.info("job_queued", job_id=job.job_id, source=job.source)
            metrics.JOB_EVENTS.labels(event="queued").inc()
            await services.dispatcher.dispatch(job)
        else:
            headers["Idempotent-Replayed"] = "true"

        return Response(queued_view(job), status_code=202, headers=headers)

    @get(
        "/status/{job_id:str}",
        guards=[require_api_key],
        summary="Read a job's status and result",
        responses=problem_responses(401, 404, 503),
    )
    async def status(
        self, job_id: FromPath[str], services: NamedDependency[Services]
    ) -> Response[dict[str, Any]]:
        job = await services.store.get(job_id) if _is_plausible_id(job_id) else None
        if job is None:
            raise problem(404, "job-not-found", "No job has this id.")

        headers = {} if job.is_finished else {"Retry-After": UNFINISHED_RETRY_AFTER}
        return Response(status_view(job), headers=headers)


async def _check_queue_cap(services: Services, submitter: str) -> None:
    cap = services.settings.max_queued_per_key
    where = JobFilter(submitted_by=submitter, status=JobStatus.QUEUED)
    queued = await services.store.list_jobs(where, page=1, limit=1)
    if queued.total < cap:
        return

    detail = f"This key already has {queued.total} jobs waiting; the limit is {cap}."
    raise problem(
        429, "too-many-queued-jobs", detail, headers={"Retry-After": QUEUE_FULL_RETRY}
    )


def _check_idempotency_key(key: str | None) -> None:
    if key is None:
        return
    if (
        0 < len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH
        and key.isascii()
        and key.isprintable()
    ):
        return

    raise problem(
        400,
        "invalid-idempotency-key",
        "Idempotency-Key must be 1 to 255 printable ASCII characters.",
        errors=[{"field": "Idempotency-Key", "message": "invalid value"}],
    )


def _push_target(data: JobRequest, services: Services) -> ZohoPush | None:
    if data.zoho_module is None or data.zoho_record_id is None:
        return None
    if services.zoho is None:
        raise problem(
            422,
            "zoho-not-configured",
            "This service has no Zoho CRM credentials, so it cannot push a draft.",
            errors=[{"field": "zohoRecordId", "message": "Zoho CRM is not configured"}],
        )

    return ZohoPush(module=data.zoho_module, record_id=data.zoho_record_id)


def _status_headers(job: Job) -> dict[str, str]:
    headers = {"Location": f"{JobController.path}/status/{job.job_id}"}
    if not job.is_finished:
        headers["Retry-After"] = UNFINISHED_RETRY_AFTER
    return headers


def _is_plausible_id(job_id: str) -> bool:
    return job_id.startswith("job_") and len(job_id) <= 64 and job_id.isascii()


SUBMIT_PATH = JobController.path


def submission_rate_limit(settings: Settings) -> RateLimitConfig:
    """Per-key limit on submissions; other endpoints are not counted.

    Counted in this process's memory: with N instances a key may submit up
    to N times the limit.
    """
    return RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        identifier_for_request=caller_id,
        check_throttle_handler=_is_submission,
    )


def _is_submission(request: Request[Any, Any, Any]) -> bool:
    return request.method == "POST" and request.url.path.rstrip("/") == SUBMIT_PATH


def openapi_config() -> OpenAPIConfig:
    """The schema's metadata and the two ways callers authenticate."""
    return OpenAPIConfig(
        title="Job-opportunity e-mails",
        version="1.0.0",
        description=(
            "Queue personalised job-opportunity e-mails, poll for them, and land"
            " them in Zoho CRM as drafts. Errors are RFC 9457 problem details."
        ),
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An API key from API_KEYS (or send it as X-API-Key).",
                ),
                "apiKeyHeader": SecurityScheme(
                    type="apiKey", name="X-API-Key", security_scheme_in="header"
                ),
                "adminToken": SecurityScheme(
                    type="http", scheme="bearer", description="The ADMIN_TOKEN."
                ),
            }
        ),
        render_plugins=[SwaggerRenderPlugin(path="/docs"), RedocRenderPlugin()],
    )
