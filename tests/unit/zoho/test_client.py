"""ZohoClient against a fake Zoho on 127.0.0.1: tokens, calls, errors, retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.fakes.zoho_server import (
    FakeZoho,
    Fault,
    authentication_failure,
    html_error,
    server_error,
    slow,
    token_throttled,
    too_many_requests,
)
from zoho.client import Recipient, ZohoClient
from zoho.errors import ZohoAuthError, ZohoError

SENDER = "recruiting@acme-staffing.example"
ANA = {
    "First_Name": "Ana",
    "Last_Name": "Silva",
    "Email": "ana.silva@example.org",
    "Mailing_Country": "Portugal",
    "Title": "Registered Nurse",
}


@pytest.fixture
def fake() -> Iterator[FakeZoho]:
    with FakeZoho() as server:
        yield server


def make_client(fake: FakeZoho, **overrides: Any) -> ZohoClient:
    settings: dict[str, Any] = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "refresh_token": fake.refresh_token,
        "accounts_url": fake.accounts_url,
        "retry_wait_seconds": 0.01,
    }
    return ZohoClient(**(settings | overrides))


@pytest.fixture
async def zoho(fake: FakeZoho) -> AsyncIterator[ZohoClient]:
    client = make_client(fake)
    yield client
    await client.aclose()


@pytest.fixture
def contact(fake: FakeZoho) -> str:
    return fake.add_record("Contacts", ANA)


def record_reads(fake: FakeZoho, record_id: str) -> int:
    path = f"/crm/v8/Contacts/{record_id}"
    return sum(r.method == "GET" and r.path == path for r in fake.requests)


async def test_first_call_uses_token_api_domain(fake: FakeZoho, contact: str) -> None:
    """The accounts URL names `localhost`; API calls go to the token's api_domain."""
    port = urlsplit(fake.accounts_url).port
    client = make_client(fake, accounts_url=f"http://localhost:{port}")

    record = await client.get_record("Contacts", contact, ["Email"])
    await client.aclose()

    hosts = [r.headers["host"] for r in fake.requests]
    assert record["Email"] == "ana.silva@example.org"
    assert fake.token_requests == 1
    assert hosts == [f"localhost:{port}", f"127.0.0.1:{port}"]


async def test_later_calls_reuse_token(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    for _ in range(3):
        await zoho.get_record("Contacts", contact, ["Email"])

    assert fake.token_requests == 1
    assert fake.active_tokens() == 1


async def test_token_near_expiry_is_refreshed(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    """A token living less than the 300 s refresh margin is never reused."""
    fake.token_lifetime = 200

    await zoho.get_record("Contacts", contact, ["Email"])
    await zoho.get_record("Contacts", contact, ["Email"])

    assert fake.token_requests == 2
    assert record_reads(fake, contact) == 2


async def test_expired_token_is_refreshed_once(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    await zoho.get_record("Contacts", contact, ["Email"])
    fake.expire_all_tokens()

    record = await zoho.get_record("Contacts", contact, ["Email"])

    assert record["Email"] == "ana.silva@example.org"
    assert fake.token_requests == 2
    assert record_reads(fake, contact) == 3


async def test_concurrent_calls_share_one_refresh(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    fake.token_delay = 0.2

    calls = [zoho.get_record("Contacts", contact, ["Email"]) for _ in range(20)]
    records = await asyncio.gather(*calls)

    assert len(records) == 20
    assert fake.token_requests == 1
    assert fake.max_concurrent_token_requests == 1


@pytest.mark.parametrize(
    ("setting", "code"),
    [
        ("client_id", "zoho_invalid_client"),
        ("client_secret", "zoho_invalid_client_secret"),
        ("refresh_token", "zoho_invalid_code"),
    ],
)
async def test_bad_credentials_are_not_retried(
    fake: FakeZoho, contact: str, setting: str, code: str
) -> None:
    client = make_client(fake, **{setting: "1000.wrong"})

    with pytest.raises(ZohoAuthError) as caught:
        await client.get_record("Contacts", contact, ["Email"])
    await client.aclose()

    assert caught.value.code == code
    assert caught.value.retryable is False
    assert fake.token_requests == 1


async def test_token_throttle_is_left_to_slower_retries(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    """The throttle is retryable, but not at once: each try counts against it."""
    fake.fail_next("token", token_throttled())

    with pytest.raises(ZohoAuthError) as caught:
        await zoho.get_record("Contacts", contact, ["Email"])

    assert caught.value.code == "zoho_token_throttled"
    assert caught.value.retryable is True
    assert fake.token_requests == 1


async def test_scope_mismatch_is_not_retried(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    fake.scopes = ("ZohoCRM.modules.leads.ALL",)

    with pytest.raises(ZohoAuthError) as caught:
        await zoho.get_record("Contacts", contact, ["Email"])

    assert caught.value.code == "zoho_scope_mismatch"
    assert caught.value.retryable is False
    assert record_reads(fake, contact) == 1
    assert fake.token_requests == 1


@pytest.mark.parametrize(
    "fault",
    [too_many_requests(), server_error(500), server_error(503), html_error(502)],
    ids=["429", "500-json", "503-json", "502-html"],
)
async def test_busy_or_failing_zoho_is_retried(
    fake: FakeZoho, zoho: ZohoClient, contact: str, fault: Fault
) -> None:
    fake.fail_next("records", fault, fault)

    record = await zoho.get_record("Contacts", contact, ["Email"])

    assert record["Email"] == "ana.silva@example.org"
    assert record_reads(fake, contact) == 3


async def test_long_outage_raises_retryable_error(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    fake.set_down(True)

    with pytest.raises(ZohoError) as caught:
        await zoho.get_record("Contacts", contact, ["Email"])

    assert caught.value.code == "zoho_unavailable"
    assert caught.value.retryable is True
    assert record_reads(fake, contact) == 4


@pytest.mark.parametrize("status", [400, 204])
async def test_unknown_record_is_not_found(
    fake: FakeZoho, zoho: ZohoClient, status: int
) -> None:
    fake.missing_record_status = status

    with pytest.raises(ZohoError) as caught:
        await zoho.get_record("Contacts", "4876876000009999999", ["Email"])

    assert caught.value.code == "zoho_record_not_found"
    assert caught.value.retryable is False
    assert "4876876000009999999" in caught.value.message


async def test_create_draft_sends_html_email(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    to = Recipient(name="Ana Silva", email="ana.silva@example.org")

    draft_id = await zoho.create_draft(
        "Contacts", contact, sender=SENDER, to=to, subject="Hi", html="<p>Hello</p>"
    )

    [draft] = fake.drafts("Contacts", contact)
    assert draft["id"] == draft_id
    assert draft["from"] == SENDER
    assert draft["to"] == [{"user_name": "Ana Silva", "email": to.email}]
    assert (draft["subject"], draft["content"]) == ("Hi", "<p>Hello</p>")
    assert draft["rich_text"] is True


async def test_update_record_turns_triggers_off(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    await zoho.update_record("Contacts", contact, {"AI_Job_Email": "<p>Hi</p>"})

    [update] = fake.updates("Contacts", contact)
    assert update.fields == {"AI_Job_Email": "<p>Hi</p>"}
    assert update.trigger == []
    assert update.workflow_triggered is False


async def test_add_note_lands_on_record(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    note_id = await zoho.add_note("Contacts", contact, "Drafted", "A draft waits.")

    [note] = fake.notes("Contacts", contact)
    assert note["id"] == note_id
    assert (note["Note_Title"], note["Note_Content"]) == ("Drafted", "A draft waits.")


async def test_errors_never_show_access_token(
    fake: FakeZoho, zoho: ZohoClient, contact: str
) -> None:
    to = Recipient(name="Ana", email="ana.silva@example.org")
    fake.from_addresses = {SENDER}
    fake.fail_next("records", authentication_failure(), authentication_failure())
    failures = [
        zoho.get_record("Contacts", contact, ["Email"]),
        zoho.get_record("Contacts", "4876876000009999999", ["Email"]),
        zoho.create_draft(
            "Contacts", contact, sender="x@example.org", to=to, subject="S", html="h"
        ),
    ]
    errors = [await _raised(call) for call in failures]
    fake.set_down(True)
    errors.append(await _raised(zoho.add_note("Contacts", contact, "T", "N")))

    sent = [r.headers.get("authorization", "") for r in fake.requests]
    tokens = {header.split()[-1] for header in sent if header}
    assert [e.code for e in errors][:2] == ["zoho_auth_failed", "zoho_record_not_found"]
    assert len(tokens) == 2
    assert not any(t in f"{e} {e!r}" for t in tokens for e in errors)


async def _raised(call: Any) -> ZohoError:
    try:
        await call
    except ZohoError as exc:
        return exc
    raise AssertionError("the call did not fail")


async def test_timed_out_draft_is_not_posted_again(
    fake: FakeZoho, contact: str
) -> None:
    """A draft POST that times out may have landed; only the caller may retry it."""
    client = make_client(fake, timeout_seconds=0.3)
    fake.fail_next("drafts", slow(1.0))
    recipient = Recipient(name="Ana Silva", email="ana@example.org")

    with pytest.raises(ZohoError) as caught:
        await client.create_draft(
            "Contacts",
            contact,
            sender=SENDER,
            to=recipient,
            subject="Hi",
            html="<p>Hi</p>",
        )
    await asyncio.sleep(1.0)
    await client.aclose()

    assert caught.value.retryable is True
    assert len(fake.drafts("Contacts", contact)) == 1
    posts = [r for r in fake.requests if r.method == "POST" and "drafts" in r.path]
    assert len(posts) == 1
