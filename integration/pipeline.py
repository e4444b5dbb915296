"""One job's life once claimed: write the e-mail, check it, save the outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog

from generation.base import EmailRequest, Writer
from generation.compose import write_email
from generation.errors import GenerationError
from generation.render import render_html
from integration import metrics
from integration.errors import InputError, ServiceError
from integration.push import ZohoPusher, missing_inputs
from integration.settings import Settings
from storage.base import (
    Job,
    JobResult,
    JobStore,
    PushStatus,
    StorageError,
    ZohoPush,
)
from zoho.errors import ZohoError

log = structlog.get_logger()

MAX_RETRY_DELAY_SECONDS = 300


class Pipeline:
    """Runs claimed jobs to completion, failure or a later retry."""

    def __init__(
        self,
        store: JobStore,
        writer: Writer,
        settings: Settings,
        pusher: ZohoPusher | None = None,
    ) -> None:
        self.store = store
        self.writer = writer
        self.settings = settings
        self.pusher = pusher

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
        if (
            job.result is None
            and job.attempts_this_run > self.settings.job_max_attempts
        ):
            await self.fail(job, owner, _exhausted(job))
            return

        try:
            async with self._lease_kept(job, owner):
                job = await self._prepare_zoho(job, owner)
                if job.result is None:
                    job.result = await self._write(job, owner)
                if job.zoho is not None:
                    job.zoho = await self._push(job, owner)
        except ZohoError as exc:
            if not await self._settle_zoho_error(job, owner, exc):
                return
        except (GenerationError, InputError) as exc:
            await self._handle_failure(job, owner, exc)
            return

        assert job.result is not None
        await self._complete(job, owner, job.result)

    async def _write(self, job: Job, owner: str) -> JobResult:
        started = time.monotonic()
        email = await write_email(self.writer, _email_request(job))
        metrics.record_email(email, time.monotonic() - started)
        result = JobResult(
            subject=email.subject,
            content=email.body,
            content_html=render_html(email.body),
            provider=email.provider,
            model=email.model,
            usage=email.usage,
            processing_time_ms=int((time.monotonic() - started) * 1000),
            retries=email.notes,
        )
        if job.zoho is not None:
            # Kept before the push, so a push retry never writes the e-mail again.
            await self.store.save_progress(job.job_id, owner, result=result)
        log.info("email_written", provider=email.provider, chars=len(email.body))

        return result

    async def _prepare_zoho(self, job: Job, owner: str) -> Job:
        """Fill inputs a webhook left out from the record, before writing.

        The recipient is looked up later, at the push: a Zoho outage then
        delays the draft, not the e-mail.
        """
        if job.zoho is None or job.result is not None or not missing_inputs(job.input):
            return job
        if self.pusher is None:
            msg = "Zoho CRM is not configured on this service (see ZOHO_* settings)"
            raise InputError(msg, code="zoho_not_configured")

        filled, push = await self.pusher.complete_inputs(job.input, job.zoho)
        if (filled, push) != (job.input, job.zoho):
            await self.store.save_progress(
                job.job_id, owner, job_input=filled, zoho=push
            )
        return job.model_copy(update={"input": filled, "zoho": push})

    async def _push(self, job: Job, owner: str) -> ZohoPush:
        """Make the draft (once) and record the outcome on the job."""
        assert self.pusher is not None and job.zoho is not None and job.result
        earlier = job.zoho
        if earlier.status in (PushStatus.CREATED, PushStatus.FAILED):
            return earlier  # Settled by an attempt whose completion was lost.
        if not earlier.recipient:
            _, earlier = await self.pusher.complete_inputs(job.input, earlier)

        pushing = earlier.model_copy(update={"status": PushStatus.PUSHING})
        await self.store.save_progress(job.job_id, owner, zoho=pushing)

        may_exist = earlier.status in (PushStatus.PUSHING, PushStatus.RETRYING)
        done = await self.pusher.push(
            job.job_id, pushing, job.input, job.result, may_exist=may_exist
        )
        await self.store.save_progress(job.job_id, owner, zoho=done)
        metrics.ZOHO_PUSHES.labels(status=done.status.value).inc()
        log.info("zoho_push_finished", status=done.status.value, error=done.error)

        return done

    async def _settle_zoho_error(self, job: Job, owner: str, exc: ZohoError) -> bool:
        """Retry a passing Zoho fault later; True when the job should complete."""
        push = job.zoho
        assert push is not None
        tries = push.attempts + 1
        if exc.retryable and tries < self.settings.zoho_push_max_attempts:
            update = {
                "status": PushStatus.RETRYING,
                "error": exc.message,
                "attempts": tries,
            }
            await self.store.save_progress(
                job.job_id, owner, zoho=push.model_copy(update=update)
            )
            # Zoho's outage spends the push budget, not the job's attempts.
            await self._retry_later(job, owner, exc.code, refund_attempt=True)
            return False
        if job.result is None:
            await self.fail(job, owner, exc)
            return False

        update = {"status": PushStatus.FAILED, "error": exc.message, "attempts": tries}
        job.zoho = push.model_copy(update=update)
        await self.store.save_progress(job.job_id, owner, zoho=job.zoho)
        metrics.ZOHO_PUSHES.labels(status=PushStatus.FAILED.value).inc()
        log.warning("zoho_push_failed", code=exc.code)
        return True

    async def _complete(self, job: Job, owner: str, result: JobResult) -> None:
        saved = await self.store.complete(
            job.job_id, owner, result, self.settings.job_ttl
        )
        if not saved:
            log.warning("job_result_discarded", reason="lease_lost")
            return

        metrics.JOB_EVENTS.labels(event="completed").inc()
        log.info(
            "job_completed",
            provider=result.provider,
            model=result.model,
            elapsed_ms=result.processing_time_ms,
            attempt=job.attempts,
        )

    async def _handle_failure(self, job: Job, owner: str, exc: ServiceError) -> None:
        if not exc.retryable or job.attempts_this_run >= self.settings.job_max_attempts:
            await self.fail(job, owner, exc)
            return

        await self._retry_later(job, owner, exc.code)

    async def _retry_after_crash(self, job: Job, owner: str) -> None:
        try:
            await self._retry_later(job, owner, "internal_error")
        except StorageError as exc:
            log.warning("job_store_failed", error=exc.message)

    async def _retry_later(
        self, job: Job, owner: str, reason: str, *, refund_attempt: bool = False
    ) -> None:
        tries = (
            job.zoho.attempts if refund_attempt and job.zoho else job.attempts_this_run
        )
        backoff = self.settings.job_retry_delay_seconds * 2 ** max(tries - 1, 0)
        delay = min(backoff, MAX_RETRY_DELAY_SECONDS)
        released = await self.store.release(
            job.job_id,
            owner,
            delay_seconds=delay,
            reason=reason,
            refund_attempt=refund_attempt,
        )
        if released:
            metrics.JOB_EVENTS.labels(event="requeued").inc()
            metrics.RETRIES.labels(reason=reason).inc()
            log.info("job_requeued", reason=reason, delay_seconds=delay)

    async def fail(self, job: Job, owner: str, exc: ServiceError) -> None:
        """Fail a held job for good with the error's code and message."""
        if job.zoho is not None and job.zoho.status is not PushStatus.CREATED:
            # No draft will come; say so where people look for it.
            update = {"status": PushStatus.FAILED, "error": exc.message}
            failed_push = job.zoho.model_copy(update=update)
            await self.store.save_progress(job.job_id, owner, zoho=failed_push)
        ttl = self.settings.job_ttl
        if await self.store.fail(job.job_id, owner, exc.message, exc.code, ttl):
            metrics.JOB_EVENTS.labels(event="failed").inc()
            metrics.JOB_FAILURES.labels(code=exc.code).inc()
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
    tries = job.attempts_this_run - 1
    msg = f"gave up after {tries} attempts; the last one failed with {last}"
    return GenerationError(msg, code="attempts_exhausted")
