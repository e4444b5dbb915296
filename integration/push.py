"""The Zoho side of a job: fill missing inputs from the record, then one draft.

A draft is created at most once per job. Before the create call the job is
marked `pushing`; if an attempt dies between Zoho's answer and our save, the
next attempt finds the draft by the job's marker instead of creating another.
"""

from __future__ import annotations

from typing import Any

import structlog
from pydantic import ValidationError

from generation.prompts import LANGUAGE_NAMES
from integration.errors import InputError
from integration.schemas import LANGUAGE_CODES, WebhookFields
from storage.base import JobInput, JobResult, PushStatus, ZohoPush
from zoho.client import Recipient, ZohoClient
from zoho.errors import ZohoError

log = structlog.get_logger()

REQUIRED_INPUTS = ("country", "occupation", "client_name")


MARKER_PREFIX = "<!-- jobmail:"


def missing_inputs(job_input: JobInput) -> list[str]:
    """The required inputs still blank, which only the record can supply."""
    return [name for name in REQUIRED_INPUTS if not getattr(job_input, name)]


def draft_marker(job_id: str) -> str:
    """An invisible HTML comment tying a draft to its job."""
    return f"{MARKER_PREFIX}{job_id} -->"


class ZohoPusher:
    """Reads records and writes drafts for jobs tied to a Zoho CRM record."""

    def __init__(
        self,
        client: ZohoClient,
        *,
        sender: str,
        field_map: dict[str, dict[str, str]],
        add_note: bool = False,
    ) -> None:
        self.client = client
        self.sender = sender
        self.field_map = field_map
        self.add_note = add_note

    async def complete_inputs(
        self, job_input: JobInput, push: ZohoPush
    ) -> tuple[JobInput, ZohoPush]:
        """Fill blank inputs and the recipient from the record, through the field map.

        Raises `InputError` when the record lacks a required value.
        """
        recipient = job_input.client_email or push.recipient
        if not missing_inputs(job_input) and recipient:
            return job_input, push.model_copy(update={"recipient": recipient})

        fields = self.field_map.get(push.module) or self.field_map["Contacts"]
        record = await self.client.get_record(
            push.module, push.record_id, sorted(set(fields.values()))
        )
        filled = _checked(_fill_inputs(job_input, record, fields), push, fields)
        still_missing = missing_inputs(filled)
        if still_missing:
            names = ", ".join(fields.get(_field_key(n), n) for n in still_missing)
            msg = f"the {push.module} record {push.record_id} has no value in {names}"
            raise InputError(msg, code="zoho_record_incomplete")

        email = recipient or _text(record.get(fields.get("email", "Email")))
        return filled, push.model_copy(update={"recipient": email or None})

    async def push(
        self,
        job_id: str,
        push: ZohoPush,
        job_input: JobInput,
        result: JobResult,
        *,
        may_exist: bool,
    ) -> ZohoPush:
        """Create the draft, or find the one an interrupted attempt made.

        Args:
            may_exist: an earlier attempt was cut short (a timeout after Zoho
                saved the draft, or a crash before we did), so look first.
        """
        if push.status is PushStatus.CREATED:
            return push
        if not push.recipient:
            msg = f"the {push.module} record {push.record_id} has no e-mail address"
            return push.model_copy(update={"status": PushStatus.FAILED, "error": msg})

        if may_exist:
            found = await self._find_draft(job_id, push, result)
            if found is not None:
                return _created(push, found)

        draft_id = await self.client.create_draft(
            push.module,
            push.record_id,
            sender=self.sender,
            to=Recipient(name=job_input.client_name, email=push.recipient),
            subject=result.subject,
            html=result.content_html + draft_marker(job_id),
        )
        log.info("zoho_draft_created", module=push.module, record_id=push.record_id)
        await self._note(push, result)

        return _created(push, draft_id)

    async def _find_draft(
        self, job_id: str, push: ZohoPush, result: JobResult
    ) -> str | None:
        marker = draft_marker(job_id)
        for draft in await self.client.list_drafts(push.module, push.record_id):
            if _is_draft_of(draft, marker, result.subject):
                log.info("zoho_draft_recovered", record_id=push.record_id)
                return str(draft["id"])
        return None

    async def _note(self, push: ZohoPush, result: JobResult) -> None:
        if not self.add_note:
            return
        try:
            await self.client.add_note(
                push.module,
                push.record_id,
                "Job-opportunity e-mail drafted",
                f"A draft \u201c{result.subject}\u201d is waiting in the e-mails list.",
            )
        except ZohoError as exc:
            # The draft is what matters; a missing note is reported, not retried.
            log.warning("zoho_note_failed", error=exc.message, code=exc.code)


def _created(push: ZohoPush, draft_id: str) -> ZohoPush:
    update = {"status": PushStatus.CREATED, "draft_id": draft_id, "error": None}
    return push.model_copy(update=update)


def _is_draft_of(draft: dict[str, Any], marker: str, subject: str) -> bool:
    content = str(draft.get("content") or "")
    if marker in content:
        return True

    # Same subject counts only where no marker survived: another job's draft for
    # this record can have the same subject and must never be taken for ours.
    return MARKER_PREFIX not in content and draft.get("subject") == subject


def _field_key(input_name: str) -> str:
    return "name" if input_name == "client_name" else input_name


def _fill_inputs(
    job_input: JobInput, record: dict[str, Any], fields: dict[str, str]
) -> JobInput:
    updates: dict[str, str] = {}
    for name in REQUIRED_INPUTS:
        value = _text(record.get(fields.get(_field_key(name), "")))
        if value and not getattr(job_input, name):
            updates[name] = value

    # A language sent with the webhook wins; else the record's, when it is mapped.
    language = _language(record.get(fields.get("language", "")))
    if language and job_input.language == "en":
        updates["language"] = language

    return job_input.model_copy(update=updates)


def _language(value: Any) -> str | None:
    text = _text(value).lower()
    return text if text in LANGUAGE_NAMES else LANGUAGE_CODES.get(text)


def _checked(job_input: JobInput, push: ZohoPush, fields: dict[str, str]) -> JobInput:
    """CRM values obey the same rules as the API's; the record is data, not trusted."""
    try:
        WebhookFields.model_validate(
            {
                "recordId": push.record_id,
                "module": push.module,
                "country": job_input.country,
                "occupation": job_input.occupation,
                "clientName": job_input.client_name,
            }
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        name = {"clientName": "name"}.get(str(error["loc"][0]), str(error["loc"][0]))
        message = str(error["msg"]).removeprefix("Value error, ")
        msg = (
            f"the {push.module} record {push.record_id} has an unusable value in"
            f" {fields.get(name, name)}: {message}"
        )
        raise InputError(msg, code="zoho_record_invalid") from None
    return job_input


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
