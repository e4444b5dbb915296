"""The request class: JSON decoding that fails as a client error, never a 500."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import ValidationException


class JobmailRequest(Request[Any, Any, Any]):
    """Refuses absurdly nested JSON bodies with a 400."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            msg = "JSON is malformed: it is nested too deeply."
            raise ValidationException(msg) from None
