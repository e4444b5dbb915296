"""Assemble the Litestar application from the settings: wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig

from integration.api import JobController
from integration.deliveries import DeliveryController
from integration.logging import configure_logging
from integration.operations import health, ready
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
        route_handlers=[JobController, DeliveryController, zoho_webhook, health, ready],
        dependencies={"services": Provide(lambda: services, sync_to_thread=False)},
        lifespan=[lifespan],
        plugins=[problem_details_plugin()],
        exception_handlers={Exception: unhandled_exception},
        request_class=JobmailRequest,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(title="Job-opportunity e-mails", version="1.0.0"),
        logging_config=None,
    )
