"""Liveness and readiness endpoints for load balancers and orchestrators."""

from __future__ import annotations

from litestar import get
from litestar.di import NamedDependency

from integration.problems import problem
from integration.services import Services
from storage.base import StorageError


@get("/health", tags=["operations"], summary="The process is alive")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@get("/ready", tags=["operations"], summary="The service can take jobs")
async def ready(services: NamedDependency[Services]) -> dict[str, str]:
    try:
        await services.store.ping()
    except StorageError as exc:
        detail = f"The job store is not answering: {exc.message}"
        raise problem(
            503, "not-ready", detail, headers={"Retry-After": "5"}, store="unavailable"
        ) from exc

    return {"status": "ready", "store": "ok", "dispatch": services.dispatcher.name}
