"""The `jobmail` command line: write one e-mail, and report bad input plainly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integration.cli import main
from tests.fakes.openai_server import FakeOpenAI, unauthorized

JOHN = [
    "generate",
    "--country",
    "Canada",
    "--occupation",
    "Software Engineer",
    "--client-name",
    "John Doe",
]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        yield server


def test_generate_prints_the_email(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(JOHN)

    out, err = capsys.readouterr()
    subject, blank, greeting, *rest = out.splitlines()
    assert code == 0
    assert subject.startswith("Subject: ") and len(subject) > len("Subject: ")
    assert blank == ""
    assert "John" in greeting
    assert "Doe" not in greeting
    body = "\n".join(rest)
    assert "Software Engineer" in body and "Canada" in body
    assert "provider: offline" in err


def test_generate_in_french_formally(capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*JOHN, "--language", "fr", "--tone", "formal"])

    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("Subject: ")
    assert "\n\nBonjour John,\n" in out
    assert "Software Engineer" in out and "Canada" in out
    assert "provider: offline" in err


def test_blank_country_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*JOHN]
    argv[argv.index("Canada")] = " "

    with pytest.raises(SystemExit) as caught:
        main(argv)

    _, err = capsys.readouterr()
    assert caught.value.code == 2
    assert "--country must not be empty" in err


def test_bad_setting_exits_with_two(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WORKER_CONCURRENCY", "abc")

    code = main(JOHN)

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("jobmail: invalid setting WORKER_CONCURRENCY")
    assert "'abc'" in line


def test_generate_through_openai(
    fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(JOHN)

    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("Subject: Software Engineer opportunities in Canada\n\n")
    assert "\n\nHello John,\n\n" in out
    assert "provider: openai" in err
    assert "model: gpt-4.1-mini" in err
    [request] = fake.requests
    assert request.headers["authorization"] == f"Bearer {fake.api_key}"


def test_openai_failure_exits_with_one(
    fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.enqueue(unauthorized())

    code = main(JOHN)

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "OPENAI_API_KEY" in err
    assert "(llm_auth_failed)" in err
    assert "test-key" not in err
