"""Build the store, the writer and the dispatcher from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from generation.base import Writer
from generation.offline import OfflineWriter
from generation.openai_writer import OpenAIWriter
from integration.pipeline import Pipeline
from integration.settings import Settings
from integration.worker import LocalWorker
from storage.base import JobStore, StorageError
from storage.mongo import MongoJobStore
from storage.sqlite import SQLiteJobStore

log = structlog.get_logger()


def make_store(settings: Settings) -> JobStore:
    """MongoDB when a connection string is set, else the embedded SQLite file."""
    if settings.mongodb_connection_string is None:
        return SQLiteJobStore(settings.sqlite_path)

    return MongoJobStore.connect(
        settings.mongodb_connection_string.get_secret_value(),
        settings.mongodb_database,
        max_pool_size=settings.mongodb_max_pool_size,
        timeout_ms=settings.mongodb_timeout_ms,
        socket_timeout_ms=settings.mongodb_socket_timeout_ms,
    )


def make_writer(settings: Settings) -> Writer:
    """OpenAI (or a compatible server) when a key is set, else the offline writer."""
    if settings.openai_api_key is None:
        return OfflineWriter()

    return OpenAIWriter(
        api_key=settings.openai_api_key.get_secret_value(),
        model=settings.openai_model,
        base_url=settings.openai_base_url,
        timeout_seconds=settings.openai_timeout_seconds,
        max_retries=settings.openai_max_retries,
        max_output_tokens=settings.openai_max_output_tokens,
        token_parameter=settings.openai_token_parameter,
        temperature=settings.openai_temperature,
    )


@dataclass
class Services:
    """The long-lived parts of one running service, opened and closed together."""

    settings: Settings
    store: JobStore
    writer: Writer
    worker: LocalWorker

    @classmethod
    def from_settings(
        cls, settings: Settings, store: JobStore | None = None
    ) -> Services:
        store = store or make_store(settings)
        writer = make_writer(settings)
        worker = LocalWorker(
            store,
            Pipeline(store, writer, settings),
            concurrency=settings.worker_concurrency,
            lease_seconds=settings.job_lease_seconds,
            poll_seconds=settings.worker_poll_seconds,
            grace_seconds=settings.shutdown_grace_seconds,
        )
        return cls(settings=settings, store=store, writer=writer, worker=worker)

    @property
    def dispatch_name(self) -> str:
        return "local"

    async def start(self) -> None:
        """Open the store and start the worker.

        A store that is down does not stop start-up: `/ready` reports it, the
        API answers 503 and the worker keeps trying until it is back.
        """
        try:
            await self.store.open()
            await self.store.delete_expired()
        except StorageError as exc:
            if not exc.retryable:
                raise
            log.warning("store_unavailable_at_startup", error=exc.message)
        await self.worker.start()
        log.info(
            "service_started",
            store=type(self.store).__name__,
            writer=self.writer.provider,
            model=self.writer.model,
        )

    async def stop(self) -> None:
        await self.worker.stop()
        await self.writer.aclose()
        await self.store.close()
