"""One job's life once claimed: write the e-mail, check it, save the outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from generation.base import Email, EmailRequest, Writer
from generation.compose import write_email
from generation.errors import GenerationError
from generation.render import render_html
from integration.errors import ServiceError
from integration.settings import Settings
from storage.base import Job, JobResult, JobStore, StorageError

log = structlog.get_logger()


class Pipeline:
    """Runs claimed jobs to completion, failure or a later retry."""

    def __init__(self, store: JobStore, writer: Writer, settings: Settings) -> None:
        self.store = store
        self.writer = writer
        self.settings = settings

    async def run(self, job: Job, owner: str) -> None:
        """Process a job this worker holds under `owner`; never raises for the job."""
        with structlog.contextvars.bound_contextvars(job_id=job.job_id):
            log.info("job_processing", attempt=job.attempts, source=job.source)
            try:
                await self._run_held(job, owner)
            except asyncio.CancelledError:
                await asyncio.shield(self._give_back(job, owner))
                raise
            except StorageError as exc:
                # The lease runs out and another worker takes the job up again.
                log.warning("job_store_failed", error=exc.message)
            except Exception:
                # A bug, not a job fault: retry later; attempts bound the damage.
                log.exception("job_crashed")
                await self._retry_after_crash(job, owner)

    async def _run_held(self, job: Job, owner: str) -> None:
        if job.attempts > self.settings.job_max_attempts:
            await self.fail(job, owner, _exhausted(job))
            return

        started = time.monotonic()
        try:
            async with self._lease_kept(job, owner):
                email = await write_email(self.writer, _email_request(job))
        except GenerationError as exc:
            await self._handle_failure(job, owner, exc)
            return

        elapsed_ms = int((time.monotonic() - started) * 1000)
        await self._complete(job, owner, email, elapsed_ms)

    async def _complete(
        self, job: Job, owner: str, email: Email, elapsed_ms: int
    ) -> None:
        result = JobResult(
            subject=email.subject,
            content=email.body,
            content_html=render_html(email.body),
            provider=email.provider,
            model=email.model,
            usage=email.usage,
            processing_time_ms=elapsed_ms,
        )
        saved = await self.store.complete(
            job.job_id, owner, result, self.settings.job_ttl
        )
        if not saved:
            log.warning("job_result_discarded", reason="lease_lost")
            return

        log.info(
            "job_completed",
            provider=email.provider,
            model=email.model,
            elapsed_ms=elapsed_ms,
            chars=len(email.body),
            attempt=job.attempts,
        )

    async def _handle_failure(self, job: Job, owner: str, exc: GenerationError) -> None:
        if not exc.retryable or job.attempts >= self.settings.job_max_attempts:
            await self.fail(job, owner, exc)
            return

        await self._retry_later(job, owner, exc.code)

    async def _retry_after_crash(self, job: Job, owner: str) -> None:
        try:
            await self._retry_later(job, owner, "internal_error")
        except StorageError as exc:
            log.warning("job_store_failed", error=exc.message)

    async def _retry_later(self, job: Job, owner: str, reason: str) -> None:
        delay = self.settings.job_retry_delay_seconds * 2 ** (job.attempts - 1)
        released = await self.store.release(
            job.job_id, owner, delay_seconds=delay, reason=reason
        )
        if released:
            log.info("job_requeued", reason=reason, delay_seconds=delay)

    async def fail(self, job: Job, owner: str, exc: ServiceError) -> None:
        """Fail a held job for good with the error's code and message."""
        ttl = self.settings.job_ttl
        if await self.store.fail(job.job_id, owner, exc.message, exc.code, ttl):
            log.info("job_failed", error_code=exc.code, attempt=job.attempts)

    async def _give_back(self, job: Job, owner: str) -> None:
        released = await self.store.release(
            job.job_id, owner, reason="shutdown", refund_attempt=True
        )
        if released:
            log.info("job_requeued", reason="shutdown")

    @asynccontextmanager
    async def _lease_kept(self, job: Job, owner: str) -> AsyncIterator[None]:
        """Extend the lease while the writer works, so a slow call keeps the job."""
        heartbeat = asyncio.create_task(self._renew_lease(job, owner))
        try:
            yield
        finally:
            heartbeat.cancel()

    async def _renew_lease(self, job: Job, owner: str) -> None:
        lease = self.settings.job_lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                await self.store.extend_lease(job.job_id, owner, lease)
            except StorageError as exc:
                log.warning("job_lease_renewal_failed", error=exc.message)


def _email_request(job: Job) -> EmailRequest:
    return EmailRequest(
        client_name=job.input.client_name,
        country=job.input.country,
        occupation=job.input.occupation,
        language=job.input.language,
        tone=job.input.tone,
    )


def _exhausted(job: Job) -> GenerationError:
    last = job.retry_reasons[-1] if job.retry_reasons else "an interrupted attempt"
    msg = f"gave up after {job.attempts - 1} attempts; the last one failed with {last}"
    return GenerationError(msg, code="attempts_exhausted")
