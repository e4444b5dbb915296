"""Who may call what: API keys, the admin token, limits, CORS and request ids."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from app import create_app
from integration.settings import Settings
from integration.worker import LocalWorker
from tests.credentials import ADMIN, ADMIN_TOKEN

SUBMIT = "/ai/generatejobopportunities"
ADMIN_PATH = f"{SUBMIT}/admin"
JOHN = {
    "country": "Canada",
    "occupation": "Software Engineer",
    "clientName": "John Doe",
}
PROBLEM = "application/problem+json"
KEYS = ["key-one", "key-two"]
JOB_ENDPOINTS = [
    ("POST", SUBMIT),
    ("GET", f"{SUBMIT}/status/{{job_id}}"),
]
ADMIN_ENDPOINTS = [
    ("GET", f"{ADMIN_PATH}/jobs"),
    ("GET", f"{ADMIN_PATH}/jobs/{{job_id}}"),
    ("POST", f"{ADMIN_PATH}/jobs/{{job_id}}/retry"),
    ("DELETE", f"{ADMIN_PATH}/jobs/{{job_id}}"),
    ("GET", f"{ADMIN_PATH}/stats"),
]
ENDPOINTS = JOB_ENDPOINTS + ADMIN_ENDPOINTS
ENDPOINT_IDS = ["submit", "status", "list", "detail", "retry", "delete", "stats"]


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_keys": KEYS,
        "admin_token": ADMIN_TOKEN,
        "data_dir": tmp_path / "data",
        "worker_poll_seconds": 0.05,
        "shutdown_grace_seconds": 2,
        "log_format": "json",
        **overrides,
    }
    return Settings(**values)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def call(
    client: TestClient,
    endpoint: tuple[str, str],
    job_id: str,
    headers: dict[str, str],
) -> Any:
    method, template = endpoint
    body = JOHN if method == "POST" and template == SUBMIT else None
    path = template.format(job_id=job_id)

    return client.request(method, path, json=body, headers=headers)


def submit(client: TestClient, headers: dict[str, str]) -> str:
    response = client.post(SUBMIT, json=JOHN, headers=headers)
    assert response.status_code == 202, response.text

    return str(response.json()["jobId"])


def log_events(captured: str) -> list[dict[str, Any]]:
    lines = (line for line in captured.splitlines() if line.startswith("{"))
    return [json.loads(line) for line in lines]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path))) as test_client:
        yield test_client


@pytest.fixture
def idle_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep submitted jobs queued: the worker pool never starts."""

    async def start(self: LocalWorker) -> None:
        return None

    monkeypatch.setattr(LocalWorker, "start", start)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=ENDPOINT_IDS)
@pytest.mark.parametrize(
    "headers",
    [{}, bearer("key-three"), {"X-API-Key": "key-three"}, bearer("")],
    ids=["missing", "wrong-bearer", "wrong-header", "empty-bearer"],
)
def test_missing_or_wrong_key_is_401(
    client: TestClient, endpoint: tuple[str, str], headers: dict[str, str]
) -> None:
    job_id = submit(client, bearer("key-one"))

    response = call(client, endpoint, job_id, headers)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == "/problems/unauthorized"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_revoked_key_is_refused_everywhere(tmp_path: Path) -> None:
    earlier = make_settings(tmp_path, api_keys=[*KEYS, "key-old"])
    with TestClient(create_app(earlier)) as client:
        job_id = submit(client, bearer("key-old"))
        was_readable = client.get(
            f"{SUBMIT}/status/{job_id}", headers=bearer("key-old")
        )

    with TestClient(create_app(make_settings(tmp_path))) as client:
        refused = {
            endpoint: call(client, endpoint, job_id, bearer("key-old")).status_code
            for endpoint in ENDPOINTS
        }
        still_there = client.get(f"{ADMIN_PATH}/jobs/{job_id}", headers=ADMIN)

    assert was_readable.status_code == 200
    assert refused == {endpoint: 401 for endpoint in ENDPOINTS}
    assert still_there.status_code == 200


def test_rotated_admin_token_is_refused(tmp_path: Path) -> None:
    new_token = "a-new-admin-token-0123456789"
    rotated = make_settings(tmp_path, admin_token=new_token)

    with TestClient(create_app(rotated)) as client:
        old = client.get(f"{ADMIN_PATH}/stats", headers=ADMIN)
        new = client.get(f"{ADMIN_PATH}/stats", headers=bearer(new_token))

    assert old.status_code == 401
    assert old.json()["type"] == "/problems/unauthorized"
    assert new.status_code == 200


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "form", [bearer, lambda key: {"X-API-Key": key}], ids=["bearer", "x-api-key"]
)
def test_each_key_opens_job_endpoints(client: TestClient, key: str, form: Any) -> None:
    submitted = client.post(SUBMIT, json=JOHN, headers=form(key))
    job_id = submitted.json()["jobId"]

    status = client.get(f"{SUBMIT}/status/{job_id}", headers=form(key))

    assert submitted.status_code == 202
    assert status.status_code == 200
    assert status.json()["jobId"] == job_id


def test_admin_token_opens_job_endpoints(client: TestClient) -> None:
    submitted = client.post(SUBMIT, json=JOHN, headers=ADMIN)

    status = client.get(f"{SUBMIT}/status/{submitted.json()['jobId']}", headers=ADMIN)

    assert submitted.status_code == 202
    assert status.status_code == 200


@pytest.mark.parametrize("endpoint", ADMIN_ENDPOINTS, ids=ENDPOINT_IDS[2:])
@pytest.mark.parametrize(
    "headers", [bearer("key-one"), {"X-API-Key": "key-two"}], ids=["bearer", "header"]
)
def test_api_key_on_admin_endpoint_is_403(
    client: TestClient, endpoint: tuple[str, str], headers: dict[str, str]
) -> None:
    job_id = submit(client, bearer("key-one"))

    response = call(client, endpoint, job_id, headers)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"] == "/problems/forbidden"


def test_admin_token_opens_admin_endpoints(client: TestClient) -> None:
    job_id = submit(client, bearer("key-one"))

    answers = {
        endpoint: call(client, endpoint, job_id, ADMIN).status_code
        for endpoint in ADMIN_ENDPOINTS
    }

    list_jobs, detail, retry, remove, stats = ADMIN_ENDPOINTS
    # A job that has not failed cannot be retried: the 409 comes from the handler.
    assert answers == {list_jobs: 200, detail: 200, retry: 409, remove: 204, stats: 200}


def test_qstash_and_webhook_keep_their_own_checks(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        qstash_token="qstash-token",
        qstash_current_signing_key="sig_current",
        base_url="https://jobmail.example",
        zoho_webhook_secret="hook-secret",
        zoho_client_id="client-id",
        zoho_client_secret="client-secret",
        zoho_refresh_token="refresh-token",
        zoho_from_email="team@example.org",
    )

    with TestClient(create_app(settings)) as client:
        delivery = client.post(f"{SUBMIT}/process", json={"jobId": "job_1_x"})
        failure = client.post(f"{SUBMIT}/process/failed", json={})
        webhook = client.post("/zoho/webhook", json={"recordId": "4876876"})

    assert [delivery.status_code, failure.status_code] == [401, 401]
    assert delivery.json()["type"] == "/problems/bad-signature"
    assert failure.json()["type"] == "/problems/bad-signature"
    assert webhook.status_code == 401
    assert webhook.json()["type"] == "/problems/bad-webhook-secret"


def test_unconfigured_qstash_and_webhook_are_404_not_401(client: TestClient) -> None:
    delivery = client.post(f"{SUBMIT}/process", json={"jobId": "job_1_x"})
    webhook = client.post("/zoho/webhook", json={"recordId": "4876876"})

    assert delivery.status_code == 404
    assert webhook.status_code == 404
    assert delivery.json()["type"] == webhook.json()["type"] == "/problems/not-found"


def test_generated_admin_token_is_printed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_settings(tmp_path, admin_token=None))
    with TestClient(app) as client:
        printed = capsys.readouterr()
        [token] = re.findall(r"the admin token for this run is (\S+)", printed.err)
        stats = client.get(f"{ADMIN_PATH}/stats", headers=bearer(token))
        wrong = client.get(f"{ADMIN_PATH}/stats", headers=ADMIN)

    later = capsys.readouterr()
    assert len(token) >= 32
    assert printed.err.count("ADMIN_TOKEN is not set") == 1
    assert stats.status_code == 200
    assert wrong.status_code == 401
    assert "ADMIN_TOKEN" not in later.err
    assert token not in printed.out + later.out


def test_configured_admin_token_is_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    create_app(make_settings(tmp_path))

    printed = capsys.readouterr()
    assert "ADMIN_TOKEN" not in printed.err
    assert ADMIN_TOKEN not in printed.err + printed.out


def test_without_api_keys_job_endpoints_are_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(make_settings(tmp_path, api_keys=[]))) as client:
        submitted = client.post(SUBMIT, json=JOHN)
        status = client.get(f"{SUBMIT}/status/{submitted.json()['jobId']}")
        admin = client.get(f"{ADMIN_PATH}/stats")

    warnings = [
        event
        for event in log_events(capsys.readouterr().out)
        if event["event"] == "api_keys_not_set"
    ]
    assert submitted.status_code == 202
    assert status.status_code == 200
    assert admin.status_code == 401
    assert [event["level"] for event in warnings] == ["warning"]


def test_configured_api_keys_log_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(make_settings(tmp_path))) as client:
        client.get("/health")

    events = [event["event"] for event in log_events(capsys.readouterr().out)]
    assert "service_started" in events
    assert "api_keys_not_set" not in events


def test_fourth_submission_in_a_minute_is_429(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, rate_limit_per_minute=3))) as c:
        accepted = [
            c.post(SUBMIT, json=JOHN, headers=bearer("key-one")) for _ in range(3)
        ]
        limited = c.post(SUBMIT, json=JOHN, headers=bearer("key-one"))
        other_key = c.post(SUBMIT, json=JOHN, headers=bearer("key-two"))
        job_id = accepted[0].json()["jobId"]
        reads = [
            c.get(f"{SUBMIT}/status/{job_id}", headers=bearer("key-one")).status_code
            for _ in range(5)
        ]

    assert [response.status_code for response in accepted] == [202, 202, 202]
    assert limited.status_code == 429
    assert limited.headers["content-type"].startswith(PROBLEM)
    assert limited.json()["status"] == 429
    assert int(limited.headers["retry-after"]) > 0
    assert other_key.status_code == 202
    assert reads == [200] * 5


@pytest.mark.usefixtures("idle_worker")
def test_third_queued_job_of_a_key_is_429(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path, max_queued_per_key=2))) as c:
        queued = [
            c.post(SUBMIT, json=JOHN, headers=bearer("key-one")) for _ in range(2)
        ]
        refused = c.post(SUBMIT, json=JOHN, headers=bearer("key-one"))
        other_key = c.post(SUBMIT, json=JOHN, headers=bearer("key-two"))

    assert [response.json()["status"] for response in queued] == ["queued"] * 2
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith(PROBLEM)
    assert refused.json()["type"] == "/problems/too-many-queued-jobs"
    assert int(refused.headers["retry-after"]) > 0
    assert other_key.status_code == 202


def test_body_over_max_body_bytes_is_413(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_body_bytes=1024)
    with TestClient(create_app(settings)) as client:
        small = client.post(
            SUBMIT, json={**JOHN, "padding": "x" * 800}, headers=bearer("key-one")
        )
        large = client.post(
            SUBMIT, json={**JOHN, "padding": "x" * 1100}, headers=bearer("key-one")
        )

    assert small.status_code == 202
    assert large.status_code == 413
    assert large.headers["content-type"].startswith(PROBLEM)
    assert large.json()["type"] == "/problems/request-entity-too-large"


PREFLIGHT = {
    "Origin": "https://crm.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


def test_cors_is_off_by_default(client: TestClient) -> None:
    preflight = client.options(SUBMIT, headers=PREFLIGHT)
    simple = client.post(
        SUBMIT,
        json=JOHN,
        headers={"Origin": "https://crm.example", **bearer("key-one")},
    )

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_cors_allows_configured_origin(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, cors_allow_origins=["https://crm.example"])
    with TestClient(create_app(settings)) as client:
        preflight = client.options(SUBMIT, headers=PREFLIGHT)
        simple = client.post(
            SUBMIT,
            json=JOHN,
            headers={"Origin": "https://crm.example", **bearer("key-one")},
        )
        stranger = client.options(
            SUBMIT, headers={**PREFLIGHT, "Origin": "https://evil.example"}
        )

    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "https://crm.example"
    assert simple.headers["access-control-allow-origin"] == "https://crm.example"
    allowed = stranger.headers.get("access-control-allow-origin")
    assert allowed != "https://evil.example"


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    responses = [
        client.post(SUBMIT, json=JOHN, headers=bearer("key-one")),
        client.post(SUBMIT, json=JOHN),
        client.get(f"{SUBMIT}/status/job_1_unknown", headers=bearer("key-one")),
        client.post(SUBMIT, json={}, headers=bearer("key-one")),
        client.get(f"{ADMIN_PATH}/stats", headers=bearer("key-one")),
    ]

    ids = {response.headers.get("x-request-id") for response in responses}
    assert [response.status_code for response in responses] == [
        202,
        401,
        404,
        422,
        403,
    ]
    assert None not in ids
    assert len(ids) == len(responses)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/no/such/path"), ("PUT", f"{SUBMIT}/status/job_1_x"), ("POST", SUBMIT)],
    ids=["no-route", "wrong-method", "rate-limited"],
)
def test_answers_outside_handlers_carry_a_request_id(
    tmp_path: Path, method: str, path: str
) -> None:
    settings = make_settings(tmp_path, rate_limit_per_minute=1)
    with TestClient(create_app(settings)) as client:
        client.post(SUBMIT, json=JOHN, headers=bearer("key-one"))
        response = client.request(method, path, json=JOHN, headers=bearer("key-one"))

    assert response.status_code in (404, 405, 429)
    assert "x-request-id" in response.headers


def test_incoming_request_id_is_echoed(client: TestClient) -> None:
    traced = {"X-Request-ID": "trace-4711"}

    accepted = client.post(SUBMIT, json=JOHN, headers={**traced, **bearer("key-one")})
    refused = client.post(SUBMIT, json=JOHN, headers=traced)
    too_long = client.get("/health", headers={"X-Request-ID": "x" * 65})

    assert accepted.headers["x-request-id"] == "trace-4711"
    assert refused.status_code == 401
    assert refused.headers["x-request-id"] == "trace-4711"
    assert too_long.headers["x-request-id"] not in ("", "x" * 65)


def test_unconfigured_keys_share_the_address_limit(tmp_path: Path) -> None:
    """In open mode a made-up key must not buy a fresh rate-limit window."""
    settings = make_settings(tmp_path, api_keys=[], rate_limit_per_minute=2)

    with TestClient(create_app(settings)) as client:
        answers = [
            client.post(SUBMIT, json=JOHN, headers={"X-API-Key": f"made-up-{n}"})
            for n in range(3)
        ]

    assert [answer.status_code for answer in answers] == [202, 202, 429]
