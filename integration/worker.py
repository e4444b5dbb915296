"""The in-process worker pool: the embedded default for running jobs."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import structlog

from integration.pipeline import Pipeline
from storage.base import Job, JobStore, StorageError

log = structlog.get_logger()


class LocalWorker:
    """A fixed number of tasks that claim due jobs from the store and run them.

    Claims go through the store with a lease, so several processes may share one
    store. Polling also picks up jobs whose lease ran out after a crash, and
    jobs queued before this process started.
    """

    def __init__(
        self,
        store: JobStore,
        pipeline: Pipeline,
        *,
        concurrency: int,
        lease_seconds: float,
        poll_seconds: float = 1.0,
        grace_seconds: float = 10.0,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.grace_seconds = grace_seconds
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._serve(), name=f"job-worker-{n}")
            for n in range(self.concurrency)
        ]
        log.info(
            "worker_started", worker_id=self.worker_id, concurrency=self.concurrency
        )

    name = "local"
    initial_delay = 0.0

    async def dispatch(self, job: Job) -> None:
        """Wake the pool for a newly stored job."""
        self._wakeup.set()

    async def take(self, job_id: str) -> None:
        """Run this job now, in the background, whatever its due time."""
        task = asyncio.create_task(self._run_by_id(job_id), name=f"job-{job_id}")
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _run_by_id(self, job_id: str) -> None:
        owner = f"{self.worker_id}/{uuid.uuid4().hex[:8]}"
        try:
            job = await self.store.claim(owner, self.lease_seconds, job_id=job_id)
        except StorageError as exc:
            log.warning("worker_claim_failed", job_id=job_id, error=exc.message)
            return
        if job is not None:
            await self.pipeline.run(job, owner)

    async def stop(self) -> None:
        """Stop claiming; let running jobs finish within the grace period.

        Jobs still running after it are cancelled and go back to the queue.
        """
        self._stopping = True
        self._wakeup.set()
        if not self._tasks:
            return

        tasks = list(self._tasks)
        _, pending = await asyncio.wait(tasks, timeout=self.grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log.info("worker_stopped", worker_id=self.worker_id, interrupted=len(pending))

    async def _serve(self) -> None:
        while not self._stopping:
            try:
                await self._serve_one()
            except Exception:
                # The outer edge: a bug must not silently shrink the pool.
                log.exception("worker_loop_failed", worker_id=self.worker_id)
                await asyncio.sleep(self.poll_seconds)

    async def _serve_one(self) -> None:
        job, owner = await self._claim_next()
        if job is None:
            await self._wait_for_work()
            return

        await self.pipeline.run(job, owner)

    async def _claim_next(self) -> tuple[Job | None, str]:
        owner = f"{self.worker_id}/{uuid.uuid4().hex[:8]}"
        try:
            return await self.store.claim(owner, self.lease_seconds), owner
        except StorageError as exc:
            log.warning("worker_claim_failed", error=exc.message)
            return None, owner

    async def _wait_for_work(self) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), self.poll_seconds)
        except TimeoutError:
            return
        if not self._stopping:
            self._wakeup.clear()
