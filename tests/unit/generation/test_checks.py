"""The content rules every e-mail must pass, and the corrective retry around them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from generation.base import Email, EmailRequest
from generation.checks import check_email
from generation.compose import write_email
from generation.errors import ContentCheckError

ANA = EmailRequest(
    client_name="Ana Silva", country="Canada", occupation="registered nurse"
)
GREETING = "Hello Ana,"
OPENING = (
    "Employers in Canada are looking for people with experience as a registered "
    "nurse, and your background fits the roles our consultants discuss with them."
)
CLOSING = (
    "If you would like to talk it through, reply to this e-mail or book a call "
    "with one of our consultants."
)
GOOD_BODY = f"{GREETING}\n\n{OPENING}\n\n{CLOSING}"
SUBJECT = "Registered nurse opportunities in Canada"


def make_email(body: str, subject: str = SUBJECT) -> Email:
    return Email(subject=subject, body=body, provider="test", model="test-1")


def broken_rule(body: str, request: EmailRequest = ANA) -> ContentCheckError:
    with pytest.raises(ContentCheckError) as caught:
        check_email(make_email(body), request)
    return caught.value


class DraftWriter:
    """Hands out prepared bodies in order and records the feedback it was given."""

    provider = "drafts"
    model = "drafts-1"

    def __init__(self, *bodies: str) -> None:
        self.bodies = list(bodies)
        self.feedback: list[str | None] = []

    async def write(self, request: EmailRequest, feedback: str | None = None) -> Email:
        self.feedback.append(feedback)
        return make_email(self.bodies.pop(0))

    async def aclose(self) -> None:
        """Nothing to release."""


def test_good_email_passes_every_check() -> None:
    email = make_email(GOOD_BODY)
    three_paragraphs = make_email(
        f"{GOOD_BODY}\n\nWe look forward to hearing from you."
    )

    check_email(email, ANA)
    check_email(three_paragraphs, ANA)

    assert email.body.startswith(GREETING)
    assert three_paragraphs.body.count("\n\n") == 3


def test_empty_body_is_rejected() -> None:
    empty = broken_rule("")
    blank = broken_rule("  \n\n  ")

    assert empty.code == "content_empty"
    assert blank.code == "content_empty"
    assert empty.retryable is False
    with pytest.raises(ContentCheckError, match="empty"):
        check_email(make_email(GOOD_BODY, subject=" "), ANA)


def test_greeting_must_name_client() -> None:
    error = broken_rule(f"Hello there,\n\n{OPENING}\n\n{CLOSING}")
    late_name = broken_rule(f"Hello,\n\n{OPENING} Ana, this suits you.\n\n{CLOSING}")
    nameless = EmailRequest(client_name=" ", country="Canada", occupation="nurse")

    check_email(make_email(f"Hello,\n\n{OPENING}\n\n{CLOSING}"), nameless)

    assert error.code == "content_greeting"
    assert "'Ana'" in error.message
    assert late_name.code == "content_greeting"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (f"{GREETING}\n\n{OPENING} {CLOSING}", "content_paragraphs"),
        (f"{GREETING}\n\n{OPENING}\n\nOne.\n\nTwo.\n\n{CLOSING}", "content_paragraphs"),
        (
            f"{GREETING}\n\n{OPENING} {'More detail. ' * 70}\n\n{CLOSING}",
            "content_paragraph_length",
        ),
    ],
    ids=["one paragraph", "four paragraphs", "paragraph too long"],
)
def test_paragraph_count_and_length(body: str, code: str) -> None:
    error = broken_rule(body)

    assert error.code == code
    assert error.retryable is False
    assert "paragraph" in error.message


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("occupation", "midwife", "content_missing_occupation"),
        ("country", "Australia", "content_missing_country"),
    ],
)
def test_occupation_and_country_required(field: str, value: str, code: str) -> None:
    request = replace(ANA, **{field: value})

    error = broken_rule(GOOD_BODY, request)

    assert error.code == code
    assert repr(value) in error.message
    assert field in error.message


def test_mentions_ignore_letter_case() -> None:
    shouting = EmailRequest(
        client_name="Ana Silva", country="CANADA", occupation="Registered Nurse"
    )

    check_email(make_email(GOOD_BODY), shouting)

    assert "CANADA" not in GOOD_BODY
    assert "Registered Nurse" not in GOOD_BODY


@pytest.mark.parametrize("placeholder", ["[Your Name]", "{{name}}", "<Client>"])
def test_placeholders_are_rejected(placeholder: str) -> None:
    body = f"{GREETING}\n\n{OPENING}\n\n{CLOSING} Ask for {placeholder} at the desk."

    error = broken_rule(body)

    assert error.code == "content_placeholder"
    assert repr(placeholder) in error.message
    with pytest.raises(ContentCheckError, match="placeholder"):
        check_email(make_email(GOOD_BODY, subject=f"{SUBJECT} {placeholder}"), ANA)


def test_placeholder_check_ignores_the_clients_own_values() -> None:
    brackets = EmailRequest(client_name="Ana [B]", country="c>", occupation="<b")
    body = (
        f"{GREETING}\n\nYour work as a <b, is one that employers in c> value, "
        "and you would fit right in.\n\n"
        f"{CLOSING} Ana [B], we look forward to it."
    )

    check_email(make_email(body, subject="<b roles in c>"), brackets)

    assert "<b, is one that employers in c>" in body


@pytest.mark.parametrize("placeholder", ["[Your Name]", "{{name}}", "<Client>"])
def test_placeholder_next_to_client_values_is_rejected(placeholder: str) -> None:
    brackets = EmailRequest(client_name="Ana Silva", country="c>", occupation="<b")
    body = (
        f"{GREETING}\n\nEmployers in c> want a <b like {placeholder} "
        f"today.\n\n{CLOSING}"
    )

    error = broken_rule(body, brackets)

    assert error.code == "content_placeholder"
    assert repr(placeholder) in error.message


def test_figures_in_odd_client_values_are_allowed() -> None:
    odd = EmailRequest(client_name="Ana <7>", country="c>", occupation="<b 3")
    body = f"{GREETING}\n\nAs a <b 3 in c>, Ana <7> is in demand.\n\n{CLOSING}"

    check_email(make_email(body, subject="<b 3 roles in c>"), odd)

    with pytest.raises(ContentCheckError, match=r"\(37\)"):
        check_email(make_email(body.replace("demand", "demand, 37 roles")), odd)


def test_subject_line_is_rejected() -> None:
    body = f"{GREETING}\n\nSubject: Nursing jobs in Canada\n{OPENING}\n\n{CLOSING}"
    german = body.replace("Subject:", "Betreff:")

    error = broken_rule(body)

    assert error.code == "content_subject_in_body"
    assert "subject line" in error.message
    assert broken_rule(german).code == "content_subject_in_body"
    assert "Subject:" not in GOOD_BODY


def test_sign_off_is_rejected() -> None:
    body = f"{GREETING}\n\n{OPENING}\n\n{CLOSING}\nBest regards,\nSam"
    german = body.replace("Best regards", "Mit freundlichen Grüßen")

    error = broken_rule(body)

    assert error.code == "content_signature"
    assert "best regards" in error.message
    assert broken_rule(german).code == "content_signature"


def test_invented_figure_is_rejected() -> None:
    body = f"{GREETING}\n\n{OPENING} Expect salaries of 90000.\n\n{CLOSING}"

    error = broken_rule(body)

    assert error.code == "content_invented_figures"
    assert "90000" in error.message
    with pytest.raises(ContentCheckError, match=r"\(5\)"):
        check_email(make_email(GOOD_BODY, subject="5 nurse jobs in Canada"), ANA)


def test_figure_from_input_is_allowed() -> None:
    electrician = EmailRequest(
        client_name="Ana Silva", country="Canada", occupation="Level 3 Electrician"
    )
    body = GOOD_BODY.replace("a registered nurse", "a Level 3 Electrician")

    check_email(make_email(body), electrician)

    assert "Level 3 Electrician" in body
    with pytest.raises(ContentCheckError, match=r"\(4\)"):
        check_email(make_email(body.replace("a call", "a call in 4 days")), electrician)


async def test_good_first_draft_is_kept() -> None:
    writer = DraftWriter(GOOD_BODY)

    email = await write_email(writer, ANA)

    assert email.body == GOOD_BODY
    assert email.notes == []
    assert writer.feedback == [None]


async def test_failed_draft_is_rewritten_once() -> None:
    signed = f"{GOOD_BODY}\nBest regards"
    writer = DraftWriter(signed, GOOD_BODY)

    email = await write_email(writer, ANA)

    assert email.body == GOOD_BODY
    assert email.notes == ["content_signature"]
    assert writer.feedback[0] is None
    assert writer.feedback[1] is not None
    assert "best regards" in writer.feedback[1]
    assert writer.bodies == []


async def test_second_failed_draft_is_final() -> None:
    writer = DraftWriter(f"{GOOD_BODY}\nBest regards", f"{GREETING}\n\n{OPENING}")

    with pytest.raises(ContentCheckError) as caught:
        await write_email(writer, ANA)

    assert caught.value.code == "content_paragraphs"
    assert caught.value.retryable is False
    assert len(writer.feedback) == 2
    assert writer.feedback[1] is not None


def test_sign_off_words_inside_a_sentence_pass() -> None:
    body = f"{GREETING}\n\n{OPENING} We sincerely hope to hear from you.\n\n{CLOSING}"

    check_email(make_email(body), ANA)

    assert "sincerely" in body
