"""Jobs through QStash (the emulator) against the real server process."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.server import SUBMIT, ServerProcess
from tests.fakes.openai_server import FakeOpenAI, server_error
from tests.fakes.qstash_emulator import QStashEmulator, sign

JOB = {"country": "Canada", "occupation": "Nurse", "clientName": "Ana Silva"}
PROCESS = SUBMIT + "/process"


@pytest.fixture
def emulator() -> Iterator[QStashEmulator]:
    with QStashEmulator(retry_delay_seconds=0.05) as running:
        yield running


@pytest.fixture
def qstash_server(
    server: ServerProcess, emulator: QStashEmulator, fake_openai: FakeOpenAI
) -> ServerProcess:
    return server.start(
        **emulator.env(),
        BASE_URL=server.url,
        OPENAI_API_KEY=fake_openai.api_key,
        OPENAI_BASE_URL=fake_openai.base_url,
        OPENAI_MAX_RETRIES="0",
        JOB_RETRY_DELAY_SECONDS="0.05",
        QSTASH_RETRIES="3",
    )


def submit_many(server: ServerProcess, count: int) -> list[str]:
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda _: server.submit(**JOB), range(count)))


def completions(server: ServerProcess) -> Counter[str]:
    return Counter(event["job_id"] for event in server.events("job_completed"))


def test_jobs_complete_once_through_qstash(
    qstash_server: ServerProcess, emulator: QStashEmulator, fake_openai: FakeOpenAI
) -> None:
    job_ids = submit_many(qstash_server, 20)

    jobs = [qstash_server.wait_finished(job_id) for job_id in job_ids]
    emulator.wait_idle(timeout=10)

    assert {job["status"] for job in jobs} == {"completed"}
    assert completions(qstash_server) == Counter(job_ids)
    assert len(fake_openai.requests) == 20
    assert len(qstash_server.events("job_dispatched")) == 20
    assert all(attempt.status == 200 for attempt in emulator.attempts)


def test_double_out_of_order_delivery_does_work_once(
    qstash_server: ServerProcess, emulator: QStashEmulator, fake_openai: FakeOpenAI
) -> None:
    emulator.deliver_twice = True
    emulator.shuffle = True

    job_ids = submit_many(qstash_server, 10)
    jobs = [qstash_server.wait_finished(job_id) for job_id in job_ids]
    emulator.wait_idle(timeout=10)

    assert {job["status"] for job in jobs} == {"completed"}
    assert completions(qstash_server) == Counter(job_ids)
    assert len(fake_openai.requests) == 10
    assert len(emulator.attempts) >= 20


def test_transient_model_failures_are_retried_by_qstash(
    qstash_server: ServerProcess, emulator: QStashEmulator, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(*(server_error(503) for _ in range(4)))

    job_ids = submit_many(qstash_server, 4)
    jobs = [qstash_server.wait_finished(job_id) for job_id in job_ids]
    emulator.wait_idle(timeout=10)

    assert {job["status"] for job in jobs} == {"completed"}
    assert completions(qstash_server) == Counter(job_ids)
    assert sum(job["attempts"] for job in jobs) == 8
    assert [a.status for a in emulator.attempts].count(503) == 4


def test_job_whose_attempts_all_fail_ends_failed(
    qstash_server: ServerProcess, emulator: QStashEmulator, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(*(server_error(500) for _ in range(10)))

    job = qstash_server.wait_finished(qstash_server.submit(**JOB))
    emulator.wait_idle(timeout=10)

    assert job["status"] == "failed"
    assert job["errorCode"] == "llm_server_error"
    assert job["attempts"] == 3
    assert "HTTP 500" in job["error"]
    assert not completions(qstash_server)


@pytest.mark.parametrize("fault", ["forged", "expired", "wrong-url", "tampered"])
def test_bad_deliveries_are_refused(
    qstash_server: ServerProcess, emulator: QStashEmulator, fault: str
) -> None:
    emulator.pause()
    job_id = qstash_server.submit(**JOB)
    body = json.dumps({"jobId": job_id}).encode()
    url = qstash_server.url + PROCESS
    signature = {
        "forged": sign(body, url, key="sig_someone_else_entirely_0123456789"),
        "expired": sign(body, url, expires_in=-120),
        "wrong-url": sign(body, "https://attacker.example" + PROCESS),
        "tampered": sign(b'{"jobId": "job_1_other"}', url),
    }[fault]

    response = httpx.post(
        url,
        content=body,
        headers={"upstash-signature": signature, "content-type": "application/json"},
    )
    job = qstash_server.status(job_id)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (job["status"], job["attempts"]) == ("queued", 0)
    emulator.resume()
