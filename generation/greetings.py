"""The opening line of every e-mail, in the client's language and tone.

Both writers use it: the offline writer and the model's body alike start here.
Greetings avoid gendered forms ("Liebe/Lieber", "Estimado/a", "Caro/a").
"""

from __future__ import annotations

import re

_NAME_SLOT = re.compile(r"\{name\}")

GREETINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "warm": ("Hello {name},", "Hi {name},"),
        "formal": ("Dear {name},",),
        "concise": ("Hello {name},",),
    },
    "fr": {
        "warm": ("Bonjour {name},",),
        "formal": ("Bonjour {name},",),
        "concise": ("Bonjour {name},",),
    },
    "de": {
        "warm": ("Hallo {name},",),
        "formal": ("Guten Tag {name},",),
        "concise": ("Hallo {name},",),
    },
    "es": {
        "warm": ("Hola, {name}:",),
        "formal": ("Buenos días, {name}:",),
        "concise": ("Hola, {name}:",),
    },
    "pt": {
        "warm": ("Olá, {name},",),
        "formal": ("Bom dia, {name},",),
        "concise": ("Olá, {name},",),
    },
}

NAMELESS_GREETINGS: dict[str, dict[str, str]] = {
    "en": {"warm": "Hello,", "formal": "Dear Sir or Madam,", "concise": "Hello,"},
    "fr": {"warm": "Bonjour,", "formal": "Madame, Monsieur,", "concise": "Bonjour,"},
    "de": {
        "warm": "Hallo,",
        "formal": "Sehr geehrte Damen und Herren,",
        "concise": "Guten Tag,",
    },
    "es": {"warm": "Hola:", "formal": "Buenos días:", "concise": "Hola:"},
    "pt": {"warm": "Olá,", "formal": "Bom dia,", "concise": "Olá,"},
}


def greeting_line(language: str, tone: str, first_name: str, choice: int = 0) -> str:
    """The greeting naming `first_name`, or a natural one when there is no name.

    `choice` picks among equivalent phrasings, so callers can vary them.
    """
    if not first_name:
        return NAMELESS_GREETINGS[language][tone]

    variants = GREETINGS[language][tone]
    template = variants[choice % len(variants)]
    # Substitute with a function so a name containing braces or "\\1" stays as is.
    return _NAME_SLOT.sub(lambda _: first_name, template)
