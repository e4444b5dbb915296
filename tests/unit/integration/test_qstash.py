"""QStash deliveries in-process: signatures, exactly-once effect, give-up callbacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from litestar.testing import TestClient
from qstash import Receiver

from app import create_app
from integration.qstash import SignatureError, verify_signature
from integration.settings import Settings
from storage.base import Job, JobInput, JobStatus, PushStatus, ZohoPush, new_job
from storage.sqlite import SQLiteJobStore

CURRENT_KEY = "sig_current_key_for_tests_0123456789"
NEXT_KEY = "sig_next_key_for_tests_abcdefghijklmn"
PUBLIC_URL = "https://jobs.example.com"
PROCESS_URL = PUBLIC_URL + "/ai/generatejobopportunities/process"
FAILED_URL = PROCESS_URL + "/failed"


def sign(body: bytes, url: str, key: str = CURRENT_KEY, expires_in: int = 300) -> str:
    now = int(time.time())
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()
    claims = {
        "iss": "Upstash",
        "sub": url,
        "iat": now,
        "nbf": 0,
        "exp": now + expires_in,
        "jti": f"jwt_{now}",
        "body": digest.rstrip("="),
    }
    return jwt.encode(claims, key, algorithm="HS256")


class TestVerifySignature:
    def test_valid_signature_passes(self) -> None:
        body = b'{"jobId": "job_1_x"}'

        claims = verify_signature(
            sign(body, PROCESS_URL), body, [CURRENT_KEY], PROCESS_URL
        )

        assert claims["sub"] == PROCESS_URL

    def test_next_key_is_accepted(self) -> None:
        body = b"{}"
        signature = sign(body, PROCESS_URL, key=NEXT_KEY)

        claims = verify_signature(signature, body, [CURRENT_KEY, NEXT_KEY], PROCESS_URL)

        assert claims["iss"] == "Upstash"

    def test_sdk_receiver_agrees_with_our_tokens(self) -> None:
        body = b'{"jobId": "job_1_x"}'
        receiver = Receiver(current_signing_key=CURRENT_KEY, next_signing_key=NEXT_KEY)

        receiver.verify(
            signature=sign(body, PROCESS_URL), body=body.decode(), url=PROCESS_URL
        )

        assert verify_signature(
            sign(body, PROCESS_URL), body, [CURRENT_KEY], PROCESS_URL
        )

    @pytest.mark.parametrize(
        ("signature", "body", "reason"),
        [
            (None, b"{}", "missing"),
            (
                sign(b"{}", PROCESS_URL, key="sig_forged_key_0123456789abcdefgh"),
                b"{}",
                "not valid",
            ),
            (sign(b"{}", PROCESS_URL, expires_in=-60), b"{}", "ExpiredSignatureError"),
            (sign(b"{}", "https://elsewhere.example/process"), b"{}", "another URL"),
            (
                sign(b'{"jobId": "a"}', PROCESS_URL),
                b'{"jobId": "b"}',
                "body does not match",
            ),
        ],
        ids=["missing", "forged", "expired", "wrong-url", "tampered"],
    )
    def test_bad_signature_is_refused(
        self, signature: str | None, body: bytes, reason: str
    ) -> None:
        with pytest.raises(SignatureError) as caught:
            verify_signature(signature, body, [CURRENT_KEY, NEXT_KEY], PROCESS_URL)

        assert reason in caught.value.message


class CountingStore:
    """Reads the app's SQLite file from the test's side of the thread boundary."""

    def __init__(self, path: Path) -> None:
        self.store = SQLiteJobStore(path)
        asyncio.run(self.store.open())

    def add(self) -> Job:
        job = new_job(JobInput(country="Canada", occupation="Nurse", client_name="Ana"))
        asyncio.run(self.store.create(job))
        return job

    def get(self, job_id: str) -> Job:
        found = asyncio.run(self.store.get(job_id))
        assert found is not None
        return found


@pytest.fixture
def qstash_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        base_url=PUBLIC_URL,
        qstash_token="test-token",
        qstash_url="http://127.0.0.1:9",
        qstash_current_signing_key=CURRENT_KEY,
        qstash_next_signing_key=NEXT_KEY,
        qstash_sweep_after_seconds=600,
        log_format="json",
    )


@pytest.fixture
def qstash_client(qstash_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(qstash_settings)) as client:
        yield client


@pytest.fixture
def jobs(qstash_settings: Settings, qstash_client: TestClient) -> CountingStore:
    return CountingStore(qstash_settings.sqlite_path)


def deliver(client: TestClient, body: bytes, url: str = PROCESS_URL, **kw: str):
    signature = kw.get("signature", sign(body, url))
    path = url.removeprefix(PUBLIC_URL)
    headers = {"content-type": "application/json", "upstash-signature": signature}
    return client.post(path, content=body, headers=headers)


def test_signed_delivery_runs_job_once(
    qstash_client: TestClient, jobs: CountingStore
) -> None:
    job = jobs.add()
    body = json.dumps({"jobId": job.job_id}).encode()

    first = deliver(qstash_client, body)
    again = deliver(qstash_client, body)
    done = jobs.get(job.job_id)

    assert first.status_code == 200
    assert again.status_code == 200
    assert again.json()["status"] == "completed"
    assert done.status is JobStatus.COMPLETED
    assert done.attempts == 1


def test_forged_delivery_is_401_and_leaves_job(
    qstash_client: TestClient, jobs: CountingStore
) -> None:
    job = jobs.add()
    body = json.dumps({"jobId": job.job_id}).encode()
    forged = sign(body, PROCESS_URL, key="sig_not_our_key_0123456789abcdefgh")

    response = deliver(qstash_client, body, signature=forged)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert jobs.get(job.job_id).status is JobStatus.QUEUED
    assert jobs.get(job.job_id).attempts == 0


def test_unknown_job_stops_retries(qstash_client: TestClient) -> None:
    response = deliver(qstash_client, b'{"jobId": "job_1_unknown"}')

    assert response.status_code == 489
    assert response.headers["upstash-nonretryable-error"] == "true"


def test_delivery_without_job_id_stops_retries(qstash_client: TestClient) -> None:
    response = deliver(qstash_client, b'{"nothing": true}')

    assert response.status_code == 489


def test_oversized_delivery_is_413(qstash_client: TestClient) -> None:
    body = b'{"jobId": "' + b"x" * 20_000 + b'"}'

    response = deliver(qstash_client, body)

    assert response.status_code == 413


def test_failure_callback_fails_queued_job(
    qstash_client: TestClient, jobs: CountingStore
) -> None:
    job = jobs.add()
    source = base64.b64encode(json.dumps({"jobId": job.job_id}).encode()).decode()
    callback = {"status": 503, "retried": 3, "maxRetries": 3, "sourceBody": source}

    response = deliver(qstash_client, json.dumps(callback).encode(), url=FAILED_URL)
    failed = jobs.get(job.job_id)

    assert response.status_code == 200
    assert failed.status is JobStatus.FAILED
    assert failed.error_code == "dispatch_exhausted"
    assert "4 attempts" in (failed.error or "")


def test_failure_callback_needs_its_own_signature(
    qstash_client: TestClient, jobs: CountingStore
) -> None:
    job = jobs.add()
    source = base64.b64encode(json.dumps({"jobId": job.job_id}).encode()).decode()
    body = json.dumps({"status": 500, "retried": 3, "sourceBody": source}).encode()

    response = deliver(
        qstash_client, body, url=FAILED_URL, signature=sign(body, PROCESS_URL)
    )

    assert response.status_code == 401
    assert jobs.get(job.job_id).status is JobStatus.QUEUED


def test_unreachable_qstash_hands_job_to_local_worker(
    qstash_client: TestClient, jobs: CountingStore
) -> None:
    submitted = qstash_client.post(
        "/ai/generatejobopportunities",
        json={"country": "Canada", "occupation": "Nurse", "clientName": "Ana"},
    )
    job_id = submitted.json()["jobId"]
    deadline = time.monotonic() + 10
    while jobs.get(job_id).status is not JobStatus.COMPLETED:
        assert time.monotonic() < deadline, "the job was not run locally"
        time.sleep(0.05)

    assert submitted.status_code == 202
    assert jobs.get(job_id).attempts == 1


def test_failure_callback_leaves_zoho_retries_to_the_sweeper(
    qstash_client: TestClient, jobs: CountingStore
) -> None:
    """QStash giving up during a Zoho outage must not fail the job."""
    retrying = ZohoPush(
        module="Contacts", record_id="4876876", status=PushStatus.RETRYING, attempts=2
    )
    job = new_job(
        JobInput(country="Canada", occupation="Nurse", client_name="Ana"), zoho=retrying
    )
    asyncio.run(jobs.store.create(job))
    source = base64.b64encode(json.dumps({"jobId": job.job_id}).encode()).decode()
    callback = {"status": 503, "retried": 3, "sourceBody": source}

    response = deliver(qstash_client, json.dumps(callback).encode(), url=FAILED_URL)
    kept = jobs.get(job.job_id)

    assert response.status_code == 200
    assert kept.status is JobStatus.QUEUED
    assert kept.retry_reasons == ["dispatch_exhausted"]
