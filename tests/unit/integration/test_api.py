"""The REST API in-process: shapes, statuses and problem details."""

from __future__ import annotations

import time
from typing import Any

import pytest
from litestar.testing import TestClient
from pydantic import ValidationError

from app import create_app
from integration.schemas import JobRequest
from integration.settings import Settings
from tests.credentials import ADMIN

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


def refusal(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The fields and messages `JobRequest` refuses the body with."""
    with pytest.raises(ValidationError) as caught:
        JobRequest.model_validate(body)
    return [(str(error["loc"][-1]), error["msg"]) for error in caught.value.errors()]


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

    page = client.get(
        f"{SUBMIT}/admin/jobs", params={"limit": 2, "page": 2}, headers=ADMIN
    ).json()
    canada = client.get(
        f"{SUBMIT}/admin/jobs", params={"country": "Canada"}, headers=ADMIN
    ).json()

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
    response = client.get(f"{SUBMIT}/admin/jobs", params=params, headers=ADMIN)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_snake_case_names_are_not_accepted(client: TestClient) -> None:
    snake = {"country": "Canada", "occupation": "Nurse", "client_name": "John Doe"}

    refused = client.post(SUBMIT, json=snake)
    ignored = client.post(SUBMIT, json={**JOHN, "client_email": "not-an-e-mail"})

    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["clientName"]
    assert ignored.status_code == 202


def test_job_input_keeps_the_python_field_names() -> None:
    request = JobRequest.model_validate({**JOHN, "clientEmail": "john@example.com"})

    job_input = request.to_job_input()

    assert job_input.client_name == "John Doe"
    assert job_input.client_email == "john@example.com"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("\u200b", "must contain a visible character"),
        ("\u200b\u200d\u2060", "must contain a visible character"),
        ("\u0301\u0308", "must contain a visible character"),
        ("\u2066John\u2069", "must not contain control characters"),
        ("John\u202eeoD", "must not contain control characters"),
        ("\u202aJohn", "must not contain control characters"),
    ],
    ids=["zero-width space", "only joiners", "only marks", "isolate", "rlo", "lre"],
)
def test_invisible_or_bidi_text_is_refused(value: str, message: str) -> None:
    errors = refusal({**JOHN, "clientName": value})

    [(field, text)] = errors
    assert field == "clientName"
    assert message in text


@pytest.mark.parametrize(
    "name",
    [
        "Zoë Åström-Núñez",
        "Jose\u0301 Nu\u0303n\u0303ez",
        "\u0645\u062d\u0645\u062f \u0639\u0644\u064a",
        "\u5c71\u7530 \u592a\u90ce",
        "\u0928\u093f\u0937\u094d\u200d\u0920\u093e",
        "Ana \U0001f469\u200d\u2695\ufe0f",
        "O\u2019Brien",
    ],
    ids=["latin", "combining", "arabic", "cjk", "zwj-devanagari", "emoji", "quote"],
)
def test_printable_names_in_any_script_are_kept_exactly(name: str) -> None:
    request = JobRequest.model_validate({**JOHN, "clientName": f" {name} "})

    assert request.client_name == name
    assert request.client_name.encode() == name.encode()


@pytest.mark.parametrize(
    "email",
    [
        "@@@.",
        "a@b@c.com",
        "@example.com",
        "ana@",
        "ana@example",
        "ana@.example.com",
        "ana@example..com",
        "ana@example.com.",
        "ana silva@example.com",
        "ana@exa mple.com",
        "ana@example.com\u00a0x",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_malformed_client_email_is_refused(email: str) -> None:
    errors = refusal({**JOHN, "clientEmail": email})

    assert [field for field, _ in errors] == ["clientEmail"]


def test_plausible_client_email_is_kept() -> None:
    email = "ana.silva+jobs@mail.example.co.uk"

    request = JobRequest.model_validate({**JOHN, "clientEmail": email})

    assert request.client_email == email


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"zohoModule": "Contacts"}, "zohoRecordId"),
        ({"zohoRecordId": "4876876000000624001"}, "zohoModule"),
    ],
)
def test_zoho_module_and_record_id_come_together(
    client: TestClient, given: dict[str, str], missing: str
) -> None:
    response = client.post(SUBMIT, json={**JOHN, **given})

    body = response.json()
    assert response.status_code == 422
    [error] = body["errors"]
    assert error["field"] == missing
    assert "required" in error["message"]
    assert missing in body["detail"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"zohoModule": "Contacts; drop", "zohoRecordId": "48768760"}, "zohoModule"),
        ({"zohoModule": "Con-tacts", "zohoRecordId": "48768760"}, "zohoModule"),
        ({"zohoModule": "Contacts", "zohoRecordId": "4876abc"}, "zohoRecordId"),
        ({"zohoModule": "Contacts", "zohoRecordId": "../48768760"}, "zohoRecordId"),
        (
            {"zohoModule": "Contacts", "zohoRecordId": "\u0664\u0668\u0667"},
            "zohoRecordId",
        ),
    ],
)
def test_zoho_names_are_restricted(given: dict[str, str], field: str) -> None:
    errors = refusal({**JOHN, **given})

    assert [name for name, _ in errors] == [field]


def test_zoho_module_and_numeric_record_id_are_kept() -> None:
    given = {"zohoModule": "Custom_Module_2", "zohoRecordId": "4876876000000624001"}

    request = JobRequest.model_validate({**JOHN, **given})

    assert request.zoho_module == "Custom_Module_2"
    assert request.zoho_record_id == "4876876000000624001"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"createdFrom": "yesterday"}, "createdFrom"),
        ({"createdTo": "2026-13-45"}, "createdTo"),
    ],
)
def test_query_errors_name_the_query_parameter(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    response = client.get(f"{SUBMIT}/admin/jobs", params=params, headers=ADMIN)

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == [field]


def test_expired_jobs_are_purged_while_running(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("integration.services.PURGE_INTERVAL_SECONDS", 0.05)
    short_lived = settings.model_copy(update={"job_ttl_days": 0.2 / 86_400})

    with TestClient(create_app(short_lived)) as client:
        job_id = client.post(SUBMIT, json=JOHN).json()["jobId"]
        finished = wait_until_finished(client, job_id)
        deadline = time.monotonic() + 5
        while client.get(f"{SUBMIT}/status/{job_id}").status_code != 404:
            assert time.monotonic() < deadline, "the finished job was never purged"
            time.sleep(0.05)

    assert finished["status"] == "completed"
