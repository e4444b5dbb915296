"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

import re
import time

from litestar.testing import TestClient

SUBMIT = "/ai/generatejobopportunities"
JOHN = {
    "country": "Canada",
    "occupation": "Software Engineer",
    "clientName": "John Doe",
}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format, 0 when absent."""
    label_text = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(f"{name}{{{label_text}}}" if labels else name) + r" (\S+)"
    found = re.search(rf"^{pattern}$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def finish_one_job(client: TestClient) -> None:
    job_id = client.post(SUBMIT, json=JOHN).json()["jobId"]
    deadline = time.monotonic() + 10
    while client.get(f"{SUBMIT}/status/{job_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_health_and_ready(client: TestClient) -> None:
    health, ready = client.get("/health"), client.get("/ready")

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "store": "ok", "dispatch": "local"}


def test_metrics_counters_move(client: TestClient) -> None:
    before = client.get("/metrics").text

    finish_one_job(client)
    after = client.get("/metrics").text

    for event in ("queued", "completed"):
        name = "jobmail_job_events_total"
        assert metric(after, name, event=event) == metric(before, name, event=event) + 1
    seconds = "jobmail_generation_seconds_count"
    assert metric(after, seconds, provider="offline") > metric(
        before, seconds, provider="offline"
    )
    assert metric(after, "jobmail_jobs", status="completed") >= 1
    assert metric(after, "jobmail_queue_depth") >= 0
    assert "jobmail_requests_total" in after


def test_metrics_group_paths_by_route(client: TestClient) -> None:
    finish_one_job(client)

    text = client.get("/metrics").text

    assert "/status/{job_id}" in text
    assert "/status/job_" not in text


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    schema = client.get("/schema/openapi.json").json()
    docs = client.get("/schema/docs")

    assert "/ai/generatejobopportunities" in schema["paths"]
    assert {"apiKey", "adminToken"} <= schema["components"]["securitySchemes"].keys()
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
