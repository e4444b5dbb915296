"""The REST API in-process: shapes, statuses and problem details."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar.testing import TestClient

SUBMIT = "/ai/generatejobopportunities"
JOHN = {
    "country": "Canada",
    "occupation": "Software Engineer",
    "clientName": "John Doe",
}
PROBLEM = "application/problem+json"


def wait_until_finished(client: TestClient, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = client.get(f"{SUBMIT}/status/{job_id}").json()
        if body["status"] in ("completed", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_submit_queues_job(client: TestClient) -> None:
    response = client.post(SUBMIT, json=JOHN)

    body = response.json()
    assert response.status_code == 202
    assert body["message"] == "Job queued successfully"
    assert body["status"] == "queued"
    assert body["jobId"].startswith("job_")
    assert response.headers["location"] == f"{SUBMIT}/status/{body['jobId']}"
    assert int(response.headers["retry-after"]) > 0
    assert body["createdAt"].endswith("Z") and len(body["createdAt"]) == 24
    assert body["estimatedCompletion"] > body["createdAt"]


def test_job_completes_with_offline_writer(client: TestClient) -> None:
    job_id = client.post(SUBMIT, json=JOHN).json()["jobId"]

    job = wait_until_finished(client, job_id)

    assert job["status"] == "completed"
    assert job["content"].startswith("Dear John,") or "John" in job["content"][:40]
    assert "Software Engineer" in job["content"] and "Canada" in job["content"]
    assert job["provider"] == "offline"
    assert job["contentHtml"].startswith("<p>")
    assert job["attempts"] == 1
    for field in ("subject", "completedAt", "processingTime", "model", "updatedAt"):
        assert field in job


def test_non_ascii_name_is_kept_byte_for_byte(client: TestClient) -> None:
    name = "Zoë Åström-Núñez"
    job_id = client.post(SUBMIT, json={**JOHN, "clientName": f"  {name} "}).json()[
        "jobId"
    ]

    job = wait_until_finished(client, job_id)

    assert job["clientName"] == name
    assert job["content"].split("\n")[0].count("Zoë") == 1


def test_unfinished_status_carries_retry_after(client: TestClient) -> None:
    job_id = client.post(SUBMIT, json=JOHN).json()["jobId"]

    response = client.get(f"{SUBMIT}/status/{job_id}")

    assert response.status_code == 200
    if response.json()["status"] in ("queued", "processing"):
        assert response.headers["retry-after"] == "2"
    else:
        assert "retry-after" not in response.headers


def test_every_bad_field_is_named(client: TestClient) -> None:
    bad = {
        "country": "  ",
        "occupation": "x" * 121,
        "clientName": "Ann\x07",
        "tone": "rude",
    }

    response = client.post(SUBMIT, json=bad)

    body = response.json()
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    assert {"type", "title", "status", "detail"} <= body.keys()
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"country", "occupation", "clientName", "tone"}


def test_missing_fields_are_named(client: TestClient) -> None:
    response = client.post(SUBMIT, json={})

    fields = {error["field"] for error in response.json()["errors"]}
    assert response.status_code == 422
    assert fields == {"country", "occupation", "clientName"}


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"\xff\xfe\xfd", b"[" * 10_000 + b"]" * 10_000, b""],
    ids=["malformed", "invalid-utf8", "deep-nesting", "empty"],
)
def test_undecodable_body_is_400(client: TestClient, content: bytes) -> None:
    response = client.post(
        SUBMIT, content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code in (400, 413)
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("content", [b"[]", b"null", b"42", b'"text"'])
def test_non_object_body_is_422(client: TestClient, content: bytes) -> None:
    response = client.post(
        SUBMIT, content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"]


def test_huge_number_is_a_field_error(client: TestClient) -> None:
    response = client.post(SUBMIT, json={**JOHN, "country": 10**400})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "country"


def test_wrong_content_type_is_415(client: TestClient) -> None:
    response = client.post(SUBMIT, data={"country": "Canada"})

    assert response.status_code == 415
    assert response.headers["content-type"].startswith(PROBLEM)


def test_oversized_body_is_413(client: TestClient) -> None:
    huge = {**JOHN, "padding": "x" * 70_000}

    response = client.post(SUBMIT, json=huge)

    assert response.status_code == 413
    assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize("job_id", ["job_1_unknown", "nope", "job_" + "9" * 300])
def test_unknown_job_is_404(client: TestClient, job_id: str) -> None:
    response = client.get(f"{SUBMIT}/status/{job_id}")

    assert response.status_code == 404
    assert response.json()["type"].endswith("job-not-found")


def test_idempotency_key_replays_first_job(client: TestClient) -> None:
    headers = {"Idempotency-Key": "order-42"}

    first = client.post(SUBMIT, json=JOHN, headers=headers)
    again = client.post(SUBMIT, json=JOHN, headers=headers)
    other = client.post(SUBMIT, json={**JOHN, "country": "Peru"}, headers=headers)

    assert again.status_code == 202
    assert again.json()["jobId"] == first.json()["jobId"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert other.status_code == 422


def test_admin_list_filters_and_pages(client: TestClient) -> None:
    ids = [client.post(SUBMIT, json=JOHN).json()["jobId"] for _ in range(3)]
    client.post(SUBMIT, json={**JOHN, "country": "Peru"})

    page = client.get(f"{SUBMIT}/admin/jobs", params={"limit": 2, "page": 2}).json()
    canada = client.get(f"{SUBMIT}/admin/jobs", params={"country": "Canada"}).json()

    assert page["pagination"] == {"page": 2, "limit": 2, "total": 4, "pages": 2}
    assert len(page["jobs"]) == 2
    assert {job["jobId"] for job in canada["jobs"]} == set(ids)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"page": "x"}, "page"),
        ({"status": "lost"}, "status"),
    ],
)
def test_admin_list_rejects_bad_query(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get(f"{SUBMIT}/admin/jobs", params=params)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]
