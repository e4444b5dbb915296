"""Errors from Zoho CRM calls, each saying whether a retry can help.

ZohoError                  (retryable: bool, code: zoho_*)
 +- ZohoAuthError          the OAuth token could not be had or was refused
"""

from __future__ import annotations

from integration.errors import ServiceError


class ZohoError(ServiceError):
    """A Zoho CRM call failed; `retryable` says whether trying again can help."""

    code = "zoho_error"


class ZohoAuthError(ZohoError):
    """The refresh token, client or scopes were refused by Zoho's accounts server."""

    code = "zoho_auth_failed"
