"""Write an e-mail and hold it to the content rules, with one corrective retry."""

from __future__ import annotations

from dataclasses import replace

import structlog

from generation.base import Email, EmailRequest, Writer
from generation.checks import check_email
from generation.errors import ContentCheckError

log = structlog.get_logger()


async def write_email(writer: Writer, request: EmailRequest) -> Email:
    """An e-mail that passed every check, or `ContentCheckError` after two drafts.

    A draft that breaks a rule is written once more, telling the writer what
    was wrong; a second failure is final.
    """
    try:
        email = await writer.write(request)
        check_email(email, request)
        return email
    except ContentCheckError as first:
        log.info("email_draft_rejected", check=first.code, provider=writer.provider)
        email = await writer.write(request, feedback=first.message)
        check_email(email, request)

        return replace(email, notes=[*email.notes, first.code])
