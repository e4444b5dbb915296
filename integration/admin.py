"""Operations for the people running the service: jobs, retries, deletions, stats."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from integration.auth import require_admin
from integration.problems import problem, problem_responses
from integration.schemas import admin_view, status_view
from integration.services import Services
from storage.base import Job, JobFilter, JobStatus

log = structlog.get_logger()

# Stats read the most recent finished jobs; enough for stable percentiles.
STATS_SAMPLE = 1000


class AdminController(Controller):
    path = "/ai/generatejobopportunities/admin"
    tags = ["admin"]
    guards = [require_admin]
    security = [{"adminToken": []}]

    @get(
        "/jobs",
        summary="List jobs, newest first",
        responses=problem_responses(400, 401, 403, 422, 503),
    )
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

    @get(
        "/jobs/{job_id:str}",
        summary="Everything about one job",
        responses=problem_responses(401, 403, 404, 503),
    )
    async def job_detail(
        self, job_id: FromPath[str], services: NamedDependency[Services]
    ) -> dict[str, Any]:
        return admin_view(await _existing(job_id, services))

    @post(
        "/jobs/{job_id:str}/retry",
        status_code=202,
        summary="Retry a failed job",
        responses=problem_responses(401, 403, 404, 409, 503),
    )
    async def retry(
        self, job_id: FromPath[str], services: NamedDependency[Services]
    ) -> dict[str, Any]:
        job = await _existing(job_id, services)
        requeued = await services.store.requeue_failed(job.job_id)
        if requeued is None:
            detail = f"Only failed jobs can be retried; this one is {job.status.value}."
            raise problem(409, "job-not-failed", detail)

        log.info("job_requeued", job_id=job_id, reason="operator_retry")
        await services.dispatcher.dispatch(requeued)
        return status_view(requeued)

    @delete(
        "/jobs/{job_id:str}",
        status_code=204,
        summary="Delete a job",
        responses=problem_responses(401, 403, 404, 503),
    )
    async def remove(
        self, job_id: FromPath[str], services: NamedDependency[Services]
    ) -> None:
        if not await services.store.delete(job_id):
            raise problem(404, "job-not-found", "No job has this id.")
        log.info("job_deleted", job_id=job_id)

    @get(
        "/stats",
        summary="Counts, timings, tokens and failure reasons",
        responses=problem_responses(401, 403, 503),
    )
    async def stats(self, services: NamedDependency[Services]) -> dict[str, Any]:
        counts = await services.store.count_by_status()
        completed = await _recent(services, JobStatus.COMPLETED)
        failed = await _recent(services, JobStatus.FAILED)

        return {
            "counts": {status.value: count for status, count in counts.items()},
            "processingTime": _percentiles(completed),
            "tokens": _tokens(completed),
            "failureCodes": _top_codes(failed),
            "zohoPushes": _push_outcomes(completed + failed),
            "sample": {"completed": len(completed), "failed": len(failed)},
        }


async def _existing(job_id: str, services: Services) -> Job:
    job = await services.store.get(job_id)
    if job is None:
        raise problem(404, "job-not-found", "No job has this id.")
    return job


async def _recent(services: Services, status: JobStatus) -> list[Job]:
    found = await services.store.list_jobs(JobFilter(status=status), 1, STATS_SAMPLE)
    return found.jobs


def _percentiles(jobs: list[Job]) -> dict[str, int | None]:
    times = sorted(job.result.processing_time_ms for job in jobs if job.result)
    if not times:
        return {"p50": None, "p95": None}

    def at(percent: int) -> int:
        # Nearest rank: the smallest time at least `percent` % of jobs stayed within.
        rank = max(1, -(-percent * len(times) // 100))
        return times[rank - 1]

    return {"p50": at(50), "p95": at(95)}


def _tokens(jobs: list[Job]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for job in jobs:
        if job.result and job.result.usage:
            totals.update(job.result.usage)
    return dict(totals)


def _top_codes(jobs: list[Job]) -> list[dict[str, Any]]:
    codes = Counter(job.error_code or "unknown" for job in jobs)
    return [{"code": code, "count": n} for code, n in codes.most_common(10)]


def _push_outcomes(jobs: list[Job]) -> dict[str, int]:
    return dict(Counter(job.zoho.status.value for job in jobs if job.zoho))


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
