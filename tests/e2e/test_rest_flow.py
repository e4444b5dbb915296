"""Submit and poll against the real server process, offline and through OpenAI."""

from __future__ import annotations

import httpx

from tests.e2e.server import SUBMIT, ServerProcess
from tests.fakes.openai_server import FakeOpenAI

JOHN = {
    "country": "Canada",
    "occupation": "Software Engineer",
    "clientName": "John Doe",
}


def assert_email_for_john(job: dict[str, object]) -> None:
    content = str(job["content"])
    assert job["status"] == "completed"
    assert content.splitlines()[0].rstrip(",:").endswith("John")
    assert "Software Engineer" in content
    assert "Canada" in content
    assert job["subject"]


def test_readme_request_completes_offline(server: ServerProcess) -> None:
    server.start()

    job = server.wait_finished(server.submit(**JOHN))

    assert_email_for_john(job)
    assert job["provider"] == "offline"
    assert job["clientName"] == "John Doe"


def test_readme_request_completes_through_openai(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    server.start(
        OPENAI_API_KEY=fake_openai.api_key, OPENAI_BASE_URL=fake_openai.base_url
    )

    job = server.wait_finished(server.submit(**JOHN))

    assert_email_for_john(job)
    assert job["provider"] == "openai"
    assert job["usage"]["totalTokens"] > 0
    assert len(fake_openai.requests) == 1


def test_logs_hold_no_email_or_secret(
    server: ServerProcess, fake_openai: FakeOpenAI
) -> None:
    fake_openai.api_key = "sk-test-do-not-log-0123456789"
    server.start(
        OPENAI_API_KEY=fake_openai.api_key, OPENAI_BASE_URL=fake_openai.base_url
    )

    job = server.wait_finished(server.submit(**JOHN))
    server.stop()
    log = server.log_path.read_text()

    assert server.events("job_completed")[0]["job_id"] == job["jobId"]
    assert fake_openai.api_key not in log
    assert job["subject"] not in log
    for paragraph in job["content"].split("\n\n")[1:]:
        assert paragraph not in log


def test_non_ascii_name_round_trips_exactly(server: ServerProcess) -> None:
    name = "Zoë Åström-Núñez"
    server.start()
    body = (
        '{"country": "Canada", "occupation": "Software Engineer", '
        f'"clientName": "{name}"}}'
    ).encode()

    created = httpx.post(
        server.url + SUBMIT, content=body, headers={"content-type": "application/json"}
    )
    job = server.wait_finished(created.json()["jobId"])
    raw = httpx.get(f"{server.url}{SUBMIT}/status/{job['jobId']}").content

    assert job["clientName"] == name
    assert name.encode() in raw
    assert job["content"].splitlines()[0].rstrip(",:").endswith("Zoë")


def test_bad_input_gets_problem_details(server: ServerProcess) -> None:
    server.start()

    response = httpx.post(server.url + SUBMIT, json={"country": "Canada"})

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"occupation", "clientName"}
