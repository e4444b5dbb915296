"""The local worker and the job pipeline on a real SQLite store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from generation.base import Email, EmailRequest
from generation.errors import GenerationError
from generation.offline import OfflineWriter
from integration.pipeline import Pipeline
from integration.settings import Settings
from integration.worker import LocalWorker
from storage.base import Job, JobInput, JobStatus, new_job
from storage.sqlite import SQLiteJobStore

FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED)
BAD_EMAIL = Email(
    subject="Nurses in Canada", body="Hello Ana,\n\nToo short.", provider="x", model="x"
)


class ScriptedWriter:
    """Raises or returns the scripted outcomes in order, then writes good e-mails.

    Every call takes `delay` seconds; `peak` is the most calls seen at once.
    """

    provider = "scripted"
    model = "scripted-1"

    def __init__(self, *script: Exception | Email, delay: float = 0.0) -> None:
        self.script = list(script)
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.peak = 0

    async def write(self, request: EmailRequest, feedback: str | None = None) -> Email:
        self.calls += 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.delay)
            outcome = self.script.pop(0) if self.script else None
            if isinstance(outcome, Exception):
                raise outcome
            if outcome is not None:
                return outcome
            email = await OfflineWriter().write(request, feedback)
            return replace(email, provider=self.provider, model=self.model)
        finally:
            self.running -= 1

    async def aclose(self) -> None:
        """Nothing to release."""


def retryable(code: str = "llm_rate_limited") -> GenerationError:
    return GenerationError("the model server is busy", code=code, retryable=True)


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "worker_concurrency": 1,
        "worker_poll_seconds": 0.02,
        "job_retry_delay_seconds": 0.01,
        "job_lease_seconds": 5,
        "shutdown_grace_seconds": 0.5,
        **overrides,
    }
    return Settings(**values)


def make_worker(
    store: SQLiteJobStore, writer: ScriptedWriter, settings: Settings
) -> LocalWorker:
    return LocalWorker(
        store,
        Pipeline(store, writer, settings),
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.worker_poll_seconds,
        grace_seconds=settings.shutdown_grace_seconds,
    )


@asynccontextmanager
async def running(worker: LocalWorker) -> AsyncIterator[LocalWorker]:
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteJobStore]:
    backend = SQLiteJobStore(tmp_path / "jobs.sqlite3")
    await backend.open()
    yield backend
    await backend.close()


async def queue_job(store: SQLiteJobStore) -> Job:
    job = new_job(
        JobInput(country="Canada", occupation="registered nurse", client_name="Ana")
    )
    stored, _ = await store.create(job)
    return stored


async def wait_for(
    store: SQLiteJobStore, job_id: str, *statuses: JobStatus, timeout: float = 5
) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = await store.get(job_id)
        if job is not None and job.status in (statuses or FINISHED):
            return job
        if time.monotonic() >= deadline:
            raise AssertionError(f"job {job_id} is {job and job.status}")
        await asyncio.sleep(0.01)


async def test_queued_job_completes_once(store: SQLiteJobStore, tmp_path: Path) -> None:
    writer = ScriptedWriter()
    worker = make_worker(store, writer, make_settings(tmp_path))

    async with running(worker):
        job = await queue_job(store)
        await worker.dispatch(job)
        done = await wait_for(store, job.job_id)
        await asyncio.sleep(0.1)

    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 1
    assert done.result is not None
    assert done.result.provider == "scripted"
    assert "Ana," in done.result.content.splitlines()[0]
    assert done.result.content_html.startswith("<p>")
    assert done.lease_owner is None
    assert writer.calls == 1


async def test_jobs_queued_before_start_run(
    store: SQLiteJobStore, tmp_path: Path
) -> None:
    jobs = [await queue_job(store) for _ in range(3)]
    writer = ScriptedWriter()
    worker = make_worker(store, writer, make_settings(tmp_path, worker_concurrency=2))

    async with running(worker):
        done = [await wait_for(store, job.job_id) for job in jobs]

    assert [job.status for job in done] == [JobStatus.COMPLETED] * 3
    assert [job.attempts for job in done] == [1, 1, 1]
    assert writer.calls == 3


async def test_concurrency_is_bounded(store: SQLiteJobStore, tmp_path: Path) -> None:
    jobs = [await queue_job(store) for _ in range(6)]
    writer = ScriptedWriter(delay=0.1)
    worker = make_worker(store, writer, make_settings(tmp_path, worker_concurrency=2))

    async with running(worker):
        done = [await wait_for(store, job.job_id) for job in jobs]

    assert all(job.status is JobStatus.COMPLETED for job in done)
    assert writer.calls == 6
    assert writer.peak == 2


async def test_retryable_failure_is_requeued(
    store: SQLiteJobStore, tmp_path: Path
) -> None:
    writer = ScriptedWriter(retryable("llm_timeout"))
    worker = make_worker(store, writer, make_settings(tmp_path))

    async with running(worker):
        job = await queue_job(store)
        done = await wait_for(store, job.job_id)

    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 2
    assert done.retry_reasons == ["llm_timeout"]
    assert done.error_code is None
    assert writer.calls == 2


async def test_permanent_failure_fails_at_once(
    store: SQLiteJobStore, tmp_path: Path
) -> None:
    message = "the OpenAI account has no quota left; add credit or raise the limit"
    writer = ScriptedWriter(GenerationError(message, code="llm_quota_exhausted"))
    worker = make_worker(store, writer, make_settings(tmp_path))

    async with running(worker):
        job = await queue_job(store)
        done = await wait_for(store, job.job_id)

    assert done.status is JobStatus.FAILED
    assert done.error_code == "llm_quota_exhausted"
    assert done.error == message
    assert done.attempts == 1
    assert done.completed_at is not None
    assert done.retry_reasons == []
    assert writer.calls == 1


async def test_attempts_are_capped(store: SQLiteJobStore, tmp_path: Path) -> None:
    writer = ScriptedWriter(*(retryable() for _ in range(10)))
    settings = make_settings(tmp_path, job_max_attempts=3)
    worker = make_worker(store, writer, settings)

    async with running(worker):
        job = await queue_job(store)
        done = await wait_for(store, job.job_id)

    assert done.status is JobStatus.FAILED
    assert done.error_code == "llm_rate_limited"
    assert done.attempts == 3
    assert done.retry_reasons == ["llm_rate_limited"] * 2
    assert writer.calls == 3


async def test_stop_requeues_job_in_flight(
    store: SQLiteJobStore, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, shutdown_grace_seconds=0.05)
    stuck = ScriptedWriter(delay=30)
    job = await queue_job(store)

    async with running(make_worker(store, stuck, settings)):
        await wait_for(store, job.job_id, JobStatus.PROCESSING)
    requeued = await wait_for(store, job.job_id, JobStatus.QUEUED, timeout=0)
    fresh = ScriptedWriter()
    async with running(make_worker(store, fresh, settings)):
        done = await wait_for(store, job.job_id)

    assert requeued.attempts == 0
    assert requeued.retry_reasons == ["shutdown"]
    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 1
    assert (stuck.calls, fresh.calls) == (1, 1)


async def test_expired_lease_is_taken_over(
    store: SQLiteJobStore, tmp_path: Path
) -> None:
    job = await queue_job(store)
    await store.claim("crashed-owner", lease_seconds=0.05)
    await asyncio.sleep(0.1)
    writer = ScriptedWriter()

    async with running(make_worker(store, writer, make_settings(tmp_path))):
        done = await wait_for(store, job.job_id)
    late = await store.fail(job.job_id, "crashed-owner", "late", "x", timedelta(1))

    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 2
    assert writer.calls == 1
    assert late is False
    assert (await store.get(job.job_id)) == done


async def test_failed_content_checks_fail_job(
    store: SQLiteJobStore, tmp_path: Path
) -> None:
    writer = ScriptedWriter(BAD_EMAIL, BAD_EMAIL)
    worker = make_worker(store, writer, make_settings(tmp_path))

    async with running(worker):
        job = await queue_job(store)
        done = await wait_for(store, job.job_id)

    assert done.status is JobStatus.FAILED
    assert done.error_code == "content_paragraphs"
    assert done.error is not None
    assert "paragraphs" in done.error
    assert done.attempts == 1
    assert writer.calls == 2


async def test_slow_job_keeps_its_lease(store: SQLiteJobStore, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, job_lease_seconds=0.15)
    writer = ScriptedWriter(delay=0.6)
    job = await queue_job(store)

    first, second = (make_worker(store, writer, settings) for _ in range(2))
    async with running(first), running(second):
        done = await wait_for(store, job.job_id)

    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 1
    assert writer.calls == 1


async def test_crash_looping_job_gives_up(
    store: SQLiteJobStore, tmp_path: Path
) -> None:
    job = await queue_job(store)
    await store.claim("crashed-owner", lease_seconds=0.01)
    await asyncio.sleep(0.05)
    writer = ScriptedWriter()
    settings = make_settings(tmp_path, job_max_attempts=1)

    async with running(make_worker(store, writer, settings)):
        done = await wait_for(store, job.job_id)

    assert done.status is JobStatus.FAILED
    assert done.error_code == "attempts_exhausted"
    assert done.attempts == 2
    assert writer.calls == 0
