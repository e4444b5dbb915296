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
from storage.base import JobStore
from storage.sqlite import SQLiteJobStore

log = structlog.get_logger()


def make_store(settings: Settings) -> JobStore:
    return SQLiteJobStore(settings.sqlite_path)


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
    def from_settings(cls, settings: Settings) -> Services:
        store = make_store(settings)
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

    async def start(self) -> None:
        await self.store.open()
        removed = await self.store.delete_expired()
        await self.worker.start()
        log.info(
            "service_started",
            store=type(self.store).__name__,
            writer=self.writer.provider,
            model=self.writer.model,
            expired_jobs_removed=removed,
        )

    async def stop(self) -> None:
        await self.worker.stop()
        await self.writer.aclose()
        await self.store.close()
