"""Plain-text e-mail bodies rendered as safe HTML for CRM drafts."""

from __future__ import annotations

import html


def split_paragraphs(body: str) -> list[str]:
    """The body's paragraphs: blocks of text separated by blank lines."""
    blocks = body.replace("\r\n", "\n").split("\n\n")
    return [block.strip() for block in blocks if block.strip()]


def render_html(body: str) -> str:
    """Each paragraph as a `<p>`, every character escaped, line breaks kept."""
    paragraphs = (
        html.escape(paragraph).replace("\n", "<br>")
        for paragraph in split_paragraphs(body)
    )
    return "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
