"""ZohoPusher against a fake Zoho: inputs from the record, and one draft per job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from integration.errors import InputError
from integration.push import ZohoPusher, draft_marker
from integration.settings import Settings
from storage.base import JobInput, JobResult, PushStatus, ZohoPush
from tests.fakes.zoho_server import FakeZoho
from zoho.client import ZohoClient

SENDER = "recruiting@acme-staffing.example"
JOB_ID = "job_1796307638137_n3jdm4wlamymitvl"
ANA = {
    "First_Name": "Ana",
    "Last_Name": "Silva",
    "Email": "ana.silva@example.org",
    "Mailing_Country": "Portugal",
    "Title": "Registered Nurse",
}
RESULT = JobResult(
    subject="In demand in Portugal: Registered Nurse professionals",
    content="Hello Ana,\n\nNurses are in demand.",
    content_html="<p>Hello Ana,</p><p>Nurses are in demand.</p>",
    provider="offline",
    model="offline-v1",
    processing_time_ms=3,
)
BLANK = JobInput(country="", occupation="", client_name="")


@pytest.fixture
def fake() -> Iterator[FakeZoho]:
    with FakeZoho() as server:
        yield server


@pytest.fixture
async def zoho(fake: FakeZoho) -> AsyncIterator[ZohoClient]:
    client = ZohoClient(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        refresh_token=fake.refresh_token,
        accounts_url=fake.accounts_url,
        retry_wait_seconds=0.01,
    )
    yield client
    await client.aclose()


@pytest.fixture
def field_map() -> dict[str, dict[str, str]]:
    return Settings().zoho_field_map


@pytest.fixture
def pusher(zoho: ZohoClient, field_map: dict[str, dict[str, str]]) -> ZohoPusher:
    return ZohoPusher(zoho, sender=SENDER, field_map=field_map)


@pytest.fixture
def contact(fake: FakeZoho) -> str:
    return fake.add_record("Contacts", ANA)


def pushing(record_id: str, attempts: int = 1) -> ZohoPush:
    """The push as the pipeline hands it over: marked PUSHING, attempt counted."""
    return ZohoPush(
        module="Contacts",
        record_id=record_id,
        status=PushStatus.PUSHING,
        recipient="ana.silva@example.org",
        attempts=attempts,
    )


def draft_reads(fake: FakeZoho) -> int:
    return sum(
        r.method == "GET" and r.path.endswith("/__email_drafts") for r in fake.requests
    )


async def test_blank_inputs_come_from_contact(pusher: ZohoPusher, contact: str) -> None:
    push = ZohoPush(module="Contacts", record_id=contact)

    filled, push = await pusher.complete_inputs(BLANK, push)

    assert filled.country == "Portugal"
    assert filled.occupation == "Registered Nurse"
    assert filled.client_name == "Ana Silva"
    assert push.recipient == "ana.silva@example.org"


async def test_given_inputs_are_kept(pusher: ZohoPusher, contact: str) -> None:
    given = JobInput(country="Canada", occupation="", client_name="Ana")
    push = ZohoPush(module="Contacts", record_id=contact)

    filled, push = await pusher.complete_inputs(given, push)

    assert (filled.country, filled.client_name) == ("Canada", "Ana")
    assert filled.occupation == "Registered Nurse"
    assert push.recipient == "ana.silva@example.org"


async def test_lead_fields_are_read(pusher: ZohoPusher, fake: FakeZoho) -> None:
    lead = {"First_Name": "Jide", "Last_Name": "Okafor", "Email": "j@example.com"}
    lead_id = fake.add_record(
        "Leads", lead | {"Country": "Nigeria", "Designation": "Electrician"}
    )

    filled, push = await pusher.complete_inputs(BLANK, ZohoPush(**_lead(lead_id)))

    assert (filled.country, filled.occupation) == ("Nigeria", "Electrician")
    assert filled.client_name == "Jide Okafor"
    assert push.recipient == "j@example.com"


@pytest.mark.parametrize(("given", "expected"), [("en", "fr"), ("de", "de")])
async def test_record_language_fills_default(
    zoho: ZohoClient,
    fake: FakeZoho,
    field_map: dict[str, dict[str, str]],
    given: str,
    expected: str,
) -> None:
    """The record's language replaces only the default `en`, never a chosen one."""
    field_map["Contacts"]["language"] = "Preferred_Language"
    record_id = fake.add_record("Contacts", ANA | {"Preferred_Language": "French"})
    pusher = ZohoPusher(zoho, sender=SENDER, field_map=field_map)
    job_input = BLANK.model_copy(update={"language": given})

    filled, _ = await pusher.complete_inputs(job_input, ZohoPush(**_contact(record_id)))

    assert filled.language == expected


async def test_incomplete_record_names_field(
    pusher: ZohoPusher, fake: FakeZoho
) -> None:
    record_id = fake.add_record("Contacts", ANA | {"Title": None})

    with pytest.raises(InputError) as caught:
        await pusher.complete_inputs(BLANK, ZohoPush(**_contact(record_id)))

    assert caught.value.code == "zoho_record_incomplete"
    assert "Title" in caught.value.message
    assert record_id in caught.value.message


async def test_push_creates_one_marked_draft(
    pusher: ZohoPusher, fake: FakeZoho, contact: str
) -> None:
    done = await pusher.push(JOB_ID, pushing(contact), BLANK, RESULT, may_exist=False)

    [draft] = fake.drafts("Contacts", contact)
    assert done.status is PushStatus.CREATED
    assert done.draft_id == draft["id"]
    assert draft_marker(JOB_ID) in draft["content"]
    assert draft["subject"] == RESULT.subject
    assert draft_reads(fake) == 0


async def test_interrupted_push_reuses_draft(
    pusher: ZohoPusher, fake: FakeZoho, contact: str
) -> None:
    """Zoho saved the draft, but our save of its id was lost; attempt 2 finds it."""
    first = await pusher.push(JOB_ID, pushing(contact), BLANK, RESULT, may_exist=False)

    second = await pusher.push(
        JOB_ID, pushing(contact, attempts=2), BLANK, RESULT, may_exist=True
    )

    assert second.status is PushStatus.CREATED
    assert second.draft_id == first.draft_id
    assert len(fake.drafts("Contacts", contact)) == 1


async def test_retry_without_draft_creates_one(
    pusher: ZohoPusher, fake: FakeZoho, contact: str
) -> None:
    done = await pusher.push(
        JOB_ID, pushing(contact, attempts=3), BLANK, RESULT, may_exist=True
    )

    [draft] = fake.drafts("Contacts", contact)
    assert done.draft_id == draft["id"]
    assert draft_reads(fake) == 1


async def test_other_jobs_draft_is_not_taken(
    pusher: ZohoPusher, fake: FakeZoho, contact: str
) -> None:
    """Another job's draft for the record may share the subject; it is not ours."""
    other = await pusher.push(
        "job_1_other", pushing(contact), BLANK, RESULT, may_exist=False
    )

    done = await pusher.push(
        JOB_ID, pushing(contact, attempts=2), BLANK, RESULT, may_exist=True
    )

    assert done.status is PushStatus.CREATED
    assert done.draft_id != other.draft_id
    assert len(fake.drafts("Contacts", contact)) == 2


async def test_record_without_email_fails_push(
    pusher: ZohoPusher, fake: FakeZoho
) -> None:
    record_id = fake.add_record("Contacts", ANA | {"Email": None})
    _, push = await pusher.complete_inputs(BLANK, ZohoPush(**_contact(record_id)))

    done = await pusher.push(JOB_ID, push, BLANK, RESULT, may_exist=False)

    assert done.status is PushStatus.FAILED
    assert done.error == f"the Contacts record {record_id} has no e-mail address"
    assert done.draft_id is None
    assert fake.drafts("Contacts", record_id) == []


async def test_created_push_is_left_alone(
    pusher: ZohoPusher, fake: FakeZoho, contact: str
) -> None:
    created = pushing(contact).model_copy(
        update={"status": PushStatus.CREATED, "draft_id": "abc123"}
    )

    done = await pusher.push(JOB_ID, created, BLANK, RESULT, may_exist=True)

    assert done == created
    assert fake.requests == []


@pytest.mark.parametrize(("may_exist", "drafts"), [(True, 1), (False, 2)])
async def test_caller_says_whether_draft_may_exist(
    pusher: ZohoPusher, fake: FakeZoho, contact: str, may_exist: bool, drafts: int
) -> None:
    """Only a caller that says a draft may exist gets the search first."""
    await pusher.push(JOB_ID, pushing(contact), BLANK, RESULT, may_exist=False)

    await pusher.push(JOB_ID, pushing(contact), BLANK, RESULT, may_exist=may_exist)

    assert len(fake.drafts("Contacts", contact)) == drafts


def _contact(record_id: str) -> dict[str, str]:
    return {"module": "Contacts", "record_id": record_id}


def _lead(record_id: str) -> dict[str, str]:
    return {"module": "Leads", "record_id": record_id}
