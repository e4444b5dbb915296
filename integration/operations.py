"""Liveness, readiness and metrics endpoints for orchestrators and Prometheus."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import REGISTRY, generate_latest

from integration.metrics import JOBS, QUEUE_DEPTH
from integration.problems import problem, problem_responses
from integration.services import Services
from storage.base import JobStatus, StorageError

# Prometheus's text format; Litestar adds the charset.
PROMETHEUS_TEXT = "text/plain; version=1.0.0"


@get("/health", tags=["operations"], summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/ready",
    tags=["operations"],
    summary="The service can take jobs",
    responses=problem_responses(503),
)
async def ready(services: NamedDependency[Services]) -> dict[str, str]:
    try:
        await services.store.ping()
    except StorageError as exc:
        detail = f"The job store is not answering: {exc.message}"
        raise problem(
            503, "not-ready", detail, headers={"Retry-After": "5"}, store="unavailable"
        ) from exc

    return {"status": "ready", "store": "ok", "dispatch": services.dispatcher.name}


@get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    media_type=PROMETHEUS_TEXT,
)
async def metrics(services: NamedDependency[Services]) -> Response[bytes]:
    """Every metric, with the store-wide gauges refreshed for this scrape."""
    try:
        counts = await services.store.count_by_status()
    except StorageError:
        counts = {}  # The store's own outage shows in /ready; keep serving the rest.
    for status, count in counts.items():
        JOBS.labels(status=status.value).set(count)
    if JobStatus.QUEUED in counts:
        QUEUE_DEPTH.set(counts[JobStatus.QUEUED])

    return Response(generate_latest(REGISTRY))
