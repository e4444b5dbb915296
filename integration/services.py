"""Build the store, the writer and the dispatcher from the settings."""

from __future__ import annotations

import asyncio

import structlog
from qstash import AsyncQStash

from generation.base import Writer
from generation.offline import OfflineWriter
from generation.openai_writer import OpenAIWriter
from integration.pipeline import Pipeline
from integration.push import ZohoPusher
from integration.qstash import QStashDispatcher
from integration.settings import Settings
from integration.worker import LocalWorker
from storage.base import JobStore, StorageError
from storage.mongo import MongoJobStore
from storage.sqlite import SQLiteJobStore
from zoho.client import ZohoClient

log = structlog.get_logger()

PURGE_INTERVAL_SECONDS = 300


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


def make_zoho_client(settings: Settings) -> ZohoClient | None:
    """The Zoho CRM client when its OAuth settings are complete, else None."""
    client_id = settings.zoho_client_id
    secret, refresh = settings.zoho_client_secret, settings.zoho_refresh_token
    if client_id is None or secret is None or refresh is None:
        return None

    return ZohoClient(
        client_id=client_id,
        client_secret=secret.get_secret_value(),
        refresh_token=refresh.get_secret_value(),
        accounts_url=settings.zoho_accounts_url,
        retry_wait_seconds=settings.zoho_retry_wait_seconds,
    )


def make_dispatcher(
    settings: Settings, store: JobStore, pipeline: Pipeline
) -> LocalWorker | QStashDispatcher:
    """QStash when a token is set, else the in-process worker pool."""
    worker = LocalWorker(
        store,
        pipeline,
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.worker_poll_seconds,
        grace_seconds=settings.shutdown_grace_seconds,
    )
    if settings.qstash_token is None or settings.base_url is None:
        return worker

    return QStashDispatcher(
        client=AsyncQStash(
            settings.qstash_token.get_secret_value(),
            base_url=settings.qstash_url,
            retry=False,  # the dispatcher retries, with its own bounds
        ),
        store=store,
        pipeline=pipeline,
        sweeper=worker,
        base_url=settings.base_url,
        retries=settings.qstash_retries,
        timeout_seconds=settings.qstash_timeout_seconds,
        sweep_after_seconds=settings.qstash_sweep_after_seconds,
        lease_seconds=settings.job_lease_seconds,
    )


class Services:
    """The long-lived parts of one running service, opened and closed together."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        writer: Writer,
        dispatcher: LocalWorker | QStashDispatcher,
        zoho: ZohoClient | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.writer = writer
        self.dispatcher = dispatcher
        self.zoho = zoho
        self._purger: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, store: JobStore | None = None
    ) -> Services:
        store = store or make_store(settings)
        writer = make_writer(settings)
        zoho = make_zoho_client(settings)
        pusher = None
        if zoho is not None and settings.zoho_from_email is not None:
            pusher = ZohoPusher(
                zoho,
                sender=settings.zoho_from_email,
                field_map=settings.zoho_field_map,
                add_note=settings.zoho_add_note,
            )
        pipeline = Pipeline(store, writer, settings, pusher)
        dispatcher = make_dispatcher(settings, store, pipeline)

        return cls(settings, store, writer, dispatcher, zoho)

    async def start(self) -> None:
        """Open the store and start dispatching.

        A store that is down does not stop start-up: `/ready` reports it, the
        API answers 503 and the worker keeps trying until it is back.
        """
        try:
            await self.store.open()
        except StorageError as exc:
            if not exc.retryable:
                raise
            log.warning("store_unavailable_at_startup", error=exc.message)
        self._purger = asyncio.create_task(self._purge_expired(), name="job-purger")
        await self.dispatcher.start()
        log.info(
            "service_started",
            store=type(self.store).__name__,
            dispatch=self.dispatcher.name,
            writer=self.writer.provider,
            model=self.writer.model,
        )

    async def _purge_expired(self) -> None:
        """Delete finished jobs past their expiry now, then every few minutes.

        MongoDB's TTL index does this on its own; SQLite relies on it.
        """
        while True:
            try:
                removed = await self.store.delete_expired()
            except StorageError as exc:
                log.warning("purge_failed", error=exc.message)
            else:
                if removed:
                    log.info("expired_jobs_deleted", count=removed)
            await asyncio.sleep(PURGE_INTERVAL_SECONDS)

    async def stop(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
        await self.dispatcher.stop()
        await self.writer.aclose()
        if self.zoho is not None:
            await self.zoho.aclose()
        await self.store.close()
