"""Assemble the Litestar application from the settings: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide

from integration.admin import AdminController
from integration.api import JobController, openapi_config, submission_rate_limit
from integration.auth import Credentials
from integration.deliveries import DeliveryController
from integration.logging import configure_logging
from integration.metrics import prometheus_config
from integration.observability import RequestIdMiddleware, add_request_id
from integration.operations import health, metrics, ready
from integration.problems import problem_details_plugin, unhandled_exception
from integration.request import JobmailRequest
from integration.services import Services
from integration.settings import Settings, load_settings
from integration.webhook import zoho_webhook
from storage.base import JobStore


def create_app(
    settings: Settings | None = None, store: JobStore | None = None
) -> Litestar:
    """Build the app; with no settings given, read them from the environment.

    `store` replaces the store the settings would choose (tests use this).
    """
    settings = settings or load_settings()
    configure_logging(settings)
    services = Services.from_settings(settings, store)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    return Litestar(
        route_handlers=[
            JobController,
            AdminController,
            DeliveryController,
            zoho_webhook,
            health,
            ready,
            metrics,
        ],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        state=State({"credentials": Credentials.from_settings(settings)}),
        lifespan=[lifespan],
        before_send=[add_request_id],
        middleware=[
            RequestIdMiddleware(),
            prometheus_config().middleware,
            submission_rate_limit(settings).middleware,
        ],
        cors_config=CORSConfig(allow_origins=settings.cors_allow_origins)
        if settings.cors_allow_origins
        else None,
        plugins=[problem_details_plugin()],
        exception_handlers={Exception: unhandled_exception},
        request_class=JobmailRequest,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi_config(),
        logging_config=None,
    )
