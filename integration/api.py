"""The REST API: submit a job, read its status, list jobs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    QueryParameter,
)

from integration.problems import problem
from integration.schemas import JobRequest, queued_view, status_view
from integration.services import Services
from storage.base import Job, JobFilter, JobStatus, ZohoPush, new_job

log = structlog.get_logger()

UNFINISHED_RETRY_AFTER = "2"
MAX_IDEMPOTENCY_KEY_LENGTH = 255


async def require_json(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
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

    @post(
        "/",
        status_code=202,
        guards=[require_json],
        summary="Queue an e-mail for a client",
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
        candidate = new_job(
            data.to_job_input(),
            source="api",
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
            await services.dispatcher.dispatch(job)
        else:
            headers["Idempotent-Replayed"] = "true"

        return Response(queued_view(job), status_code=202, headers=headers)

    @get("/status/{job_id:str}", summary="Read a job's status and result")
    async def status(
        self, job_id: FromPath[str], services: NamedDependency[Services]
    ) -> Response[dict[str, Any]]:
        job = await services.store.get(job_id) if _is_plausible_id(job_id) else None
        if job is None:
            raise problem(404, "job-not-found", "No job has this id.")

        headers = {} if job.is_finished else {"Retry-After": UNFINISHED_RETRY_AFTER}
        return Response(status_view(job), headers=headers)

    @get("/admin/jobs", summary="List jobs, newest first")
    async def list_jobs(
        self,
        services: NamedDependency[Services],
        status: FromQuery[JobStatus | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        country: FromQuery[str | None] = None,
        occupation: FromQuery[str | None] = None,
        source: FromQuery[str | None] = None,
        created_from: Annotated[
            datetime | None, QueryParameter(name="createdFrom")
        ] = None,
        created_to: Annotated[datetime | None, QueryParameter(name="createdTo")] = None,
    ) -> dict[str, Any]:
        where = JobFilter(
            status=status,
            country=country,
            occupation=occupation,
            source=source,
            created_from=_as_utc(created_from),
            created_to=_as_utc(created_to),
        )
        found = await services.store.list_jobs(where, page=page, limit=limit)
        pages = (found.total + limit - 1) // limit

        return {
            "jobs": [status_view(job) for job in found.jobs],
            "pagination": {
                "page": page,
                "limit": limit,
                "total": found.total,
                "pages": pages,
            },
        }


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


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


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
