"""Content rules every e-mail must pass before a job completes, whoever wrote it."""

from __future__ import annotations

import re

from generation.base import Email, EmailRequest
from generation.errors import ContentCheckError
from generation.render import split_paragraphs

MIN_PARAGRAPHS = 2
MAX_PARAGRAPHS = 3
MAX_PARAGRAPH_CHARS = 900

_PLACEHOLDER = re.compile(r"\[[^\]\n]{1,40}\]|\{\{.*?\}\}|<[A-Za-z][^<>\n]{0,40}>")
_SUBJECT_LINE = re.compile(r"^\s*(subject|betreff|objet|asunto|assunto)\s*:", re.I)
# A sign-off is a line that starts with one of these; inside a sentence
# ("we sincerely hope") the words are fine.
_SIGN_OFF_LINE = re.compile(
    r"^\s*(best|kind|warm|warmest)?\s*regards\b|^\s*(yours\s+)?(sincerely|truly)\b"
    r"|^\s*(mit\s+)?(freundlichen|herzlichen|liebe|viele|beste)\s+gr(ü|ue)(ß|ss)e"
    r"|^\s*(cordialement|bien\s+à\s+vous|salutations|amicalement)\b"
    r"|^\s*(atentamente|saludos|un\s+saludo)\b"
    r"|^\s*(atenciosamente|cumprimentos|abraços|um\s+abraço)\b",
    re.IGNORECASE | re.MULTILINE,
)
_DIGITS = re.compile(r"\d+")


def check_email(email: Email, request: EmailRequest) -> None:
    """Raise `ContentCheckError`, its code naming the first rule the e-mail breaks."""
    for rule in (
        _check_not_empty,
        _check_greeting,
        _check_paragraphs,
        _check_mentions,
        _check_placeholders,
        _check_no_subject_or_signature,
        _check_figures,
    ):
        problem = rule(email, request)
        if problem is not None:
            code, message = problem
            raise ContentCheckError(message, code=f"content_{code}")


Problem = tuple[str, str] | None


def _body_paragraphs(email: Email) -> list[str]:
    return split_paragraphs(email.body)[1:]


def _check_not_empty(email: Email, request: EmailRequest) -> Problem:
    if not email.body.strip() or not email.subject.strip():
        return "empty", "the e-mail has an empty subject or body"
    return None


def _check_greeting(email: Email, request: EmailRequest) -> Problem:
    greeting = split_paragraphs(email.body)[0]
    if request.first_name and request.first_name not in greeting:
        return "greeting", f"the greeting does not name {request.first_name!r}"
    return None


def _check_paragraphs(email: Email, request: EmailRequest) -> Problem:
    paragraphs = _body_paragraphs(email)
    if not MIN_PARAGRAPHS <= len(paragraphs) <= MAX_PARAGRAPHS:
        return "paragraphs", (
            f"the body has {len(paragraphs)} paragraphs after the greeting;"
            f" it needs {MIN_PARAGRAPHS} to {MAX_PARAGRAPHS}"
        )
    if any(len(paragraph) > MAX_PARAGRAPH_CHARS for paragraph in paragraphs):
        return "paragraph_length", (
            f"a paragraph is longer than {MAX_PARAGRAPH_CHARS} characters"
        )
    return None


def _check_mentions(email: Email, request: EmailRequest) -> Problem:
    body = email.body.casefold()
    for label, value in (
        ("occupation", request.occupation),
        ("country", request.country),
    ):
        if value.casefold() not in body:
            return f"missing_{label}", f"the body does not name the {label} {value!r}"
    return None


def _check_placeholders(email: Email, request: EmailRequest) -> Problem:
    # The client's values may hold brackets ("<b", "c>"); only what the
    # writer added around them can be a placeholder.
    text = _without_client_values(f"{email.subject}\n{email.body}", request)
    match = _PLACEHOLDER.search(text)
    if match is not None:
        return "placeholder", f"the e-mail contains a placeholder {match.group(0)!r}"
    return None


def _client_values(request: EmailRequest) -> list[str]:
    """The name, occupation and country as sent, longest first, blanks left out."""
    values = (request.client_name, request.occupation, request.country)
    present = {value.strip() for value in values if value.strip()}
    return sorted(present, key=lambda value: (-len(value), value))


def _without_client_values(text: str, request: EmailRequest) -> str:
    for value in _client_values(request):
        text = re.sub(re.escape(value), "", text, flags=re.IGNORECASE)
    return text


def _check_no_subject_or_signature(email: Email, request: EmailRequest) -> Problem:
    if any(_SUBJECT_LINE.match(line) for line in email.body.splitlines()):
        return "subject_in_body", "the body contains a subject line"

    sign_off = _SIGN_OFF_LINE.search(email.body)
    if sign_off is not None:
        phrase = sign_off.group(0).strip().lower()
        return "signature", f"the body signs off with {phrase!r}"
    return None


def _check_figures(email: Email, request: EmailRequest) -> Problem:
    allowed = set(_DIGITS.findall(" ".join(_client_values(request))))
    for number in _DIGITS.findall(f"{email.subject} {email.body}"):
        if number not in allowed:
            return (
                "invented_figures",
                f"the e-mail states a figure ({number}) not in the input",
            )
    return None
