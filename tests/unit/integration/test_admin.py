"""The admin endpoints: job detail, retries, deletions and stats."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from pydantic import SecretStr

from app import create_app
from integration.settings import Settings
from storage.base import JobInput, JobResult, JobStore, new_job
from tests.credentials import ADMIN
from tests.fakes.openai_server import FakeOpenAI, unauthorized
from tests.stores import STORE_BACKENDS, make_store

SUBMIT = "/ai/generatejobopportunities"
JOBS = f"{SUBMIT}/admin/jobs"
STATS = f"{SUBMIT}/admin/stats"
JOHN = {
    "country": "Canada",
    "occupation": "Software Engineer",
    "clientName": "John Doe",
}
PROBLEM = "application/problem+json"
TTL = timedelta(days=7)


def wait_until_finished(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = client.get(f"{SUBMIT}/status/{job_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


def finished_job(client: TestClient) -> dict[str, Any]:
    job_id = client.post(SUBMIT, json=JOHN).json()["jobId"]

    return wait_until_finished(client, job_id)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(params=STORE_BACKENDS)
def openai_client(
    request: pytest.FixtureRequest,
    settings: Settings,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
) -> Iterator[TestClient]:
    """The app writing with the fake OpenAI server, once per store backend."""
    with_openai = settings.model_copy(
        update={
            "openai_api_key": SecretStr(fake_openai.api_key),
            "openai_base_url": fake_openai.base_url,
            "openai_max_retries": 0,
        }
    )
    store = make_store(request.param, tmp_path)
    with TestClient(create_app(with_openai, store)) as test_client:
        yield test_client


def test_detail_shows_lease_and_expiry(client: TestClient) -> None:
    job = finished_job(client)

    response = client.get(f"{JOBS}/{job['jobId']}", headers=ADMIN)

    detail = response.json()
    assert response.status_code == 200
    assert {key: detail[key] for key in job} == job
    assert detail["status"] == "completed"
    assert detail["leaseOwner"] is None
    assert detail["leaseExpiresAt"] is None
    assert parse_time(detail["expiresAt"]) - parse_time(detail["completedAt"]) == TTL
    assert parse_time(detail["availableAt"]) <= parse_time(detail["completedAt"])
    assert detail["retryBase"] == 0
    assert detail["submittedBy"] == "addr_testclient"


def test_detail_of_unknown_job_is_404(client: TestClient) -> None:
    response = client.get(f"{JOBS}/job_1_unknown", headers=ADMIN)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == "/problems/job-not-found"


def test_failed_job_is_retried_under_its_id(
    openai_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(unauthorized())
    failed = finished_job(openai_client)

    retried = openai_client.post(f"{JOBS}/{failed['jobId']}/retry", headers=ADMIN)
    completed = wait_until_finished(openai_client, failed["jobId"])
    listed = openai_client.get(JOBS, headers=ADMIN).json()

    assert failed["status"] == "failed"
    assert failed["errorCode"] == "llm_auth_failed"
    assert retried.status_code == 202
    assert retried.json()["jobId"] == failed["jobId"]
    assert retried.json()["status"] == "queued"
    assert "errorCode" not in retried.json()
    assert completed["status"] == "completed"
    assert completed["attempts"] == failed["attempts"] + 1
    assert listed["pagination"]["total"] == 1


def test_retry_of_completed_job_is_409(client: TestClient) -> None:
    job = finished_job(client)

    response = client.post(f"{JOBS}/{job['jobId']}/retry", headers=ADMIN)
    after = client.get(f"{SUBMIT}/status/{job['jobId']}").json()

    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == "/problems/job-not-failed"
    assert "completed" in response.json()["detail"]
    assert after == job


def test_retry_of_unknown_job_is_404(client: TestClient) -> None:
    response = client.post(f"{JOBS}/job_1_unknown/retry", headers=ADMIN)

    assert response.status_code == 404
    assert response.json()["type"] == "/problems/job-not-found"


def test_deleted_job_is_gone(client: TestClient) -> None:
    job = finished_job(client)
    path = f"{JOBS}/{job['jobId']}"

    first = client.delete(path, headers=ADMIN)
    second = client.delete(path, headers=ADMIN)
    status = client.get(f"{SUBMIT}/status/{job['jobId']}")
    detail = client.get(path, headers=ADMIN)

    assert first.status_code == 204
    assert first.content == b""
    assert second.status_code == 404
    assert second.json()["type"] == "/problems/job-not-found"
    assert status.status_code == 404
    assert detail.status_code == 404


def test_stats_count_jobs_and_failures(
    openai_client: TestClient, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(unauthorized(), unauthorized())
    jobs = [finished_job(openai_client) for _ in range(3)]

    stats = openai_client.get(STATS, headers=ADMIN).json()

    assert [job["status"] for job in jobs] == ["failed", "failed", "completed"]
    assert stats["counts"] == {
        "queued": 0,
        "processing": 0,
        "completed": 1,
        "failed": 2,
    }
    assert stats["failureCodes"] == [{"code": "llm_auth_failed", "count": 2}]
    assert isinstance(stats["processingTime"]["p50"], int)
    assert isinstance(stats["processingTime"]["p95"], int)
    assert stats["tokens"]["totalTokens"] == jobs[2]["usage"]["totalTokens"] > 0
    assert stats["sample"] == {"completed": 1, "failed": 2}


def test_stats_without_jobs_have_no_percentiles(client: TestClient) -> None:
    response = client.get(STATS, headers=ADMIN)

    stats = response.json()
    assert response.status_code == 200
    assert set(stats["counts"].values()) == {0}
    assert stats["processingTime"] == {"p50": None, "p95": None}
    assert stats["failureCodes"] == []


async def seed(store: JobStore, times_ms: list[int], codes: list[str]) -> None:
    """Completed jobs taking `times_ms`, failed ones with `codes`, one of each
    still queued and processing."""
    await store.open()
    try:
        for ms in times_ms:
            job_id = await claimed(store)
            result = JobResult(
                subject="Hello",
                content="Hello",
                content_html="<p>Hello</p>",
                provider="seed",
                model="seed-v1",
                usage={"totalTokens": 10},
                processing_time_ms=ms,
            )
            await store.complete(job_id, "seed", result, TTL)
        for code in codes:
            await store.fail(await claimed(store), "seed", "Seeded.", code, TTL)
        await claimed(store)
        await store.create(new_job(JobInput(**seed_input()), available_in=3600))
    finally:
        await store.close()


async def claimed(store: JobStore) -> str:
    job, _ = await store.create(new_job(JobInput(**seed_input())))
    await store.claim("seed", 3600, job_id=job.job_id)

    return job.job_id


def seed_input() -> dict[str, str]:
    return {"country": "Canada", "occupation": "Nurse", "client_name": "Ana"}


@pytest.mark.parametrize("backend", STORE_BACKENDS)
def test_stats_percentiles_use_nearest_rank(
    settings: Settings, tmp_path: Path, backend: str
) -> None:
    store = make_store(backend, tmp_path)
    codes = ["content_greeting", "llm_auth_failed", "llm_auth_failed"]
    asyncio.run(seed(store, list(range(1, 21)), codes))

    with TestClient(create_app(settings, store)) as client:
        stats = client.get(STATS, headers=ADMIN).json()

    assert stats["processingTime"] == {"p50": 10, "p95": 19}
    assert stats["counts"] == {
        "queued": 1,
        "processing": 1,
        "completed": 20,
        "failed": 3,
    }
    assert stats["failureCodes"] == [
        {"code": "llm_auth_failed", "count": 2},
        {"code": "content_greeting", "count": 1},
    ]
    assert stats["tokens"] == {"totalTokens": 200}
