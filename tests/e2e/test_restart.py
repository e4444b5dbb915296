"""Stopping the server mid-work and starting it again finishes every job once."""

from __future__ import annotations

import signal
import time
from collections import Counter

from tests.e2e.server import ServerProcess
from tests.fakes.openai_server import FakeOpenAI, slow

JOB = {"country": "Canada", "occupation": "Nurse", "clientName": "Ana Silva"}


def submit_slow_jobs(server: ServerProcess, fake: FakeOpenAI, count: int) -> list[str]:
    fake.enqueue(*(slow(1.5) for _ in range(count * 2)))
    job_ids = [server.submit(**JOB) for _ in range(count)]
    deadline = time.monotonic() + 10
    while not server.events("job_processing") and time.monotonic() < deadline:
        time.sleep(0.05)
    return job_ids


def assert_each_completed_once(server: ServerProcess, job_ids: list[str]) -> None:
    jobs = [server.wait_finished(job_id, timeout=60) for job_id in job_ids]
    completions = Counter(event["job_id"] for event in server.events("job_completed"))

    assert [job["status"] for job in jobs] == ["completed"] * len(job_ids)
    assert completions == Counter(job_ids)


def test_graceful_stop_requeues_and_restart_finishes(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    server.start(
        OPENAI_API_KEY=fake_openai.api_key,
        OPENAI_BASE_URL=fake_openai.base_url,
        WORKER_CONCURRENCY="2",
        SHUTDOWN_GRACE_SECONDS="0.2",
    )
    job_ids = submit_slow_jobs(server, fake_openai, count=5)

    exit_code = server.stop(signal.SIGTERM)
    requeued = server.events("job_requeued")
    server.start(JOB_TTL_DAYS="0.5")

    # uvicorn shuts down cleanly, then re-raises the signal it caught.
    assert exit_code in (0, -signal.SIGTERM)
    assert server.events("worker_stopped")[0]["interrupted"] == len(requeued)
    assert {event["reason"] for event in requeued} == {"shutdown"}
    assert_each_completed_once(server, job_ids)


def test_crash_leaves_jobs_resumable(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    server.start(
        OPENAI_API_KEY=fake_openai.api_key,
        OPENAI_BASE_URL=fake_openai.base_url,
        WORKER_CONCURRENCY="2",
        JOB_LEASE_SECONDS="2",
    )
    job_ids = submit_slow_jobs(server, fake_openai, count=4)

    in_flight = {event["job_id"] for event in server.events("job_processing")}
    server.stop(signal.SIGKILL)
    server.start()

    assert in_flight
    assert_each_completed_once(server, job_ids)
    assert all(server.status(job_id)["attempts"] == 2 for job_id in in_flight)
