"""The opening line of every e-mail, in the client's language and tone."""

from __future__ import annotations

# Per language and tone: the greeting with a first name, and the one without.
# German and Spanish use forms that do not depend on the reader's gender.
_GREETINGS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "warm": ("Dear {name},", "Hello,"),
        "formal": ("Dear {name},", "Dear client,"),
        "concise": ("Hello {name},", "Hello,"),
    },
    "fr": {
        "warm": ("Bonjour {name},", "Bonjour,"),
        "formal": ("Bonjour {name},", "Madame, Monsieur,"),
        "concise": ("Bonjour {name},", "Bonjour,"),
    },
    "de": {
        "warm": ("Hallo {name},", "Hallo,"),
        "formal": ("Guten Tag {name},", "Guten Tag,"),
        "concise": ("Hallo {name},", "Hallo,"),
    },
    "es": {
        "warm": ("Hola, {name}:", "Hola:"),
        "formal": ("Buenos días, {name}:", "Buenos días:"),
        "concise": ("Hola, {name}:", "Hola:"),
    },
    "pt": {
        "warm": ("Olá {name},", "Olá,"),
        "formal": ("Bom dia, {name},", "Bom dia,"),
        "concise": ("Olá {name},", "Olá,"),
    },
}


def greeting_line(language: str, tone: str, first_name: str) -> str:
    """The greeting naming `first_name`, or a natural one when there is no name."""
    with_name, without_name = _GREETINGS[language][tone]
    if not first_name:
        return without_name

    # Replace rather than format: a name may itself contain braces.
    return with_name.replace("{name}", first_name)
