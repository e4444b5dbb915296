"""Tests for the fake Zoho CRM server, driven by plain httpx on 127.0.0.1."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.zoho_server import (
    THROTTLE_DESCRIPTION,
    FakeZoho,
    Fault,
    authentication_failure,
    html_error,
    invalid_client,
    invalid_client_secret,
    invalid_code,
    invalid_token,
    scope_mismatch,
    server_error,
    slow,
    token_error,
    token_throttled,
    too_many_requests,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# One TLS context for every client: building one per client is slow, and the
# fake speaks plain HTTP anyway.
TLS = ssl.create_default_context()
CONTACT = {
    "First_Name": "Ana",
    "Last_Name": "Silva",
    "Email": "ana.silva@example.org",
    "Mailing_Country": "Portugal",
    "Title": "Registered Nurse",
    "Email_Opt_Out": False,
}
DRAFT = {
    "from": "recruiting@acme-staffing.example",
    "to": [{"user_name": "Ana Silva", "email": "ana.silva@example.org"}],
    "reply_to": "recruiting@acme-staffing.example",
    "subject": "Three nursing roles in Lisbon",
    "content": "<p>Hi Ana,</p><p>We found three openings.</p>",
    "rich_text": True,
}
INVALID_TOKEN_BODY = {
    "code": "INVALID_TOKEN",
    "details": {},
    "message": "invalid oauth token",
    "status": "error",
}
SCOPE_MISMATCH_BODY = {
    "code": "OAUTH_SCOPE_MISMATCH",
    "details": {},
    "message": "invalid oauth scope to access this URL",
    "status": "error",
}


@pytest.fixture
def fake() -> Iterator[FakeZoho]:
    with FakeZoho() as server:
        yield server


@pytest.fixture
def contact_id(fake: FakeZoho) -> str:
    return fake.add_record("Contacts", CONTACT)


def http_post(url: str, **options: Any) -> httpx.Response:
    with httpx.Client(verify=TLS, timeout=options.pop("timeout", 5)) as client:
        return client.post(url, **options)


def http_get(url: str, **options: Any) -> httpx.Response:
    with httpx.Client(verify=TLS, timeout=options.pop("timeout", 5)) as client:
        return client.get(url, **options)


def token_response(fake: FakeZoho, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "refresh_token": fake.refresh_token,
        **overrides,
    }
    return http_post(f"{fake.accounts_url}/oauth/v2/token", data=form, timeout=5)


def access_token(fake: FakeZoho, refresh_token: str | None = None) -> str:
    overrides = {} if refresh_token is None else {"refresh_token": refresh_token}
    return token_response(fake, **overrides).json()["access_token"]


def api(fake: FakeZoho, token: str | None = None) -> httpx.Client:
    """A client on the token's api_domain, authorised the way Zoho wants."""
    headers = {} if token is None else {"Authorization": f"Zoho-oauthtoken {token}"}
    return httpx.Client(
        base_url=fake.api_domain, headers=headers, timeout=5, verify=TLS
    )


def get_record(fake: FakeZoho, record_id: str, token: str) -> httpx.Response:
    with api(fake, token) as client:
        return client.get(f"/crm/v8/Contacts/{record_id}")


def post_drafts(
    fake: FakeZoho, record_id: str, token: str, *drafts: Any
) -> httpx.Response:
    with api(fake, token) as client:
        return client.post(
            f"/crm/v8/Contacts/{record_id}/__email_drafts",
            json={"__email_drafts": list(drafts)},
        )


# --------------------------------------------------------------------------
# OAuth
# --------------------------------------------------------------------------


def test_refresh_returns_access_token_api_domain_and_expiry(fake: FakeZoho) -> None:
    response = token_response(fake)

    body = response.json()
    assert response.status_code == 200
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", body["access_token"])
    assert body["api_domain"] == fake.api_domain == fake.accounts_url
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "refresh_token" not in body
    assert fake.token_requests == 1
    [request] = fake.requests
    assert request.form()["grant_type"] == "refresh_token"


def test_token_parameters_may_come_in_the_query_string(fake: FakeZoho) -> None:
    params = {
        "grant_type": "refresh_token",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "refresh_token": fake.refresh_token,
    }
    response = http_post(fake.token_url, params=params, timeout=5)

    assert response.json()["access_token"].startswith("1000.")


def test_token_lifetime_and_legacy_expiry_fields_are_configurable() -> None:
    with FakeZoho(token_lifetime=120) as fake:
        assert token_response(fake).json()["expires_in"] == 120
        fake.legacy_expiry = True
        body = token_response(fake).json()

    assert body["expires_in_sec"] == 120
    assert body["expires_in"] == 120_000


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"client_secret": "wrong"}, "invalid_client_secret"),
        ({"client_id": "1000.SOMEONEELSE"}, "invalid_client"),
        ({"refresh_token": "1000.revoked.token"}, "invalid_code"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
    ],
)
def test_token_errors_come_back_with_http_200(
    fake: FakeZoho, overrides: dict[str, str], error: str
) -> None:
    response = token_response(fake, **overrides)

    assert response.status_code == 200
    assert response.json() == {"error": error}
    assert fake.active_tokens() == 0


def test_grant_code_exchange_returns_a_refresh_token_once(fake: FakeZoho) -> None:
    code = fake.issue_grant_code("ZohoCRM.modules.contacts.READ")
    form = {"grant_type": "authorization_code", "code": code}

    first = token_response(fake, **form).json()
    second = token_response(fake, **form).json()

    assert first["refresh_token"].startswith("1000.")
    assert first["api_domain"] == fake.api_domain
    assert second == {"error": "invalid_code"}
    refreshed = token_response(fake, refresh_token=first["refresh_token"]).json()
    assert "access_token" in refreshed


def test_revoked_refresh_token_gives_invalid_code_and_kills_tokens(
    fake: FakeZoho, contact_id: str
) -> None:
    token = access_token(fake)
    revoke = http_post(
        f"{fake.accounts_url}/oauth/v2/token/revoke",
        data={"token": fake.refresh_token},
        timeout=5,
    )

    assert revoke.json() == {"status": "success"}
    assert token_response(fake).json() == {"error": "invalid_code"}
    assert get_record(fake, contact_id, token).status_code == 401


def test_sixteenth_active_token_invalidates_the_oldest(
    fake: FakeZoho, contact_id: str
) -> None:
    tokens = [access_token(fake) for _ in range(16)]

    assert fake.active_tokens() == 15
    assert get_record(fake, contact_id, tokens[0]).json() == INVALID_TOKEN_BODY
    assert get_record(fake, contact_id, tokens[1]).status_code == 200


def test_token_rate_limit_gives_the_access_denied_throttle(fake: FakeZoho) -> None:
    fake.token_rate_limit = 2
    token_response(fake)
    token_response(fake)

    response = token_response(fake)

    assert response.status_code == 200
    assert response.json() == {
        "error_description": THROTTLE_DESCRIPTION,
        "error": "Access Denied",
        "status": "failure",
    }


def test_token_delay_lets_concurrent_refreshes_overlap() -> None:
    with FakeZoho(token_delay=0.2) as fake, ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda _: token_response(fake).json(), range(4)))

    assert len({body["access_token"] for body in bodies}) == 4
    assert fake.token_requests == 4
    assert fake.max_concurrent_token_requests > 1


# --------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer {token}",
        "Zoho-oauthtoken",
        "Zoho-oauthtoken  {token}",
        "x {token}",
    ],
)
def test_missing_or_malformed_authorization_is_invalid_token(
    fake: FakeZoho, contact_id: str, authorization: str | None
) -> None:
    token = access_token(fake)
    headers = {} if authorization is None else {"Authorization": authorization}
    headers = {name: value.format(token=token) for name, value in headers.items()}
    with api(fake) as client:
        response = client.get(f"/crm/v8/Contacts/{contact_id}", headers=headers)

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN_BODY


def test_expire_all_tokens_then_refresh_again(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    assert get_record(fake, contact_id, token).status_code == 200

    fake.expire_all_tokens()
    expired = get_record(fake, contact_id, token)
    renewed = get_record(fake, contact_id, access_token(fake))

    assert expired.status_code == 401
    assert expired.json() == INVALID_TOKEN_BODY
    assert renewed.status_code == 200


def test_tokens_expire_after_their_lifetime(contact_id: str, fake: FakeZoho) -> None:
    fake.token_lifetime = 0
    token = access_token(fake)

    assert get_record(fake, contact_id, token).json() == INVALID_TOKEN_BODY


def test_missing_scope_is_oauth_scope_mismatch(fake: FakeZoho, contact_id: str) -> None:
    reader = fake.add_refresh_token("ZohoCRM.Modules.Contacts.READ")
    token = access_token(fake, reader)

    read = get_record(fake, contact_id, token)
    draft = post_drafts(fake, contact_id, token, DRAFT)

    assert read.status_code == 200
    assert draft.status_code == 401
    assert draft.json() == SCOPE_MISMATCH_BODY
    assert fake.drafts("Contacts", contact_id) == []


def test_default_scopes_are_configurable(fake: FakeZoho, contact_id: str) -> None:
    fake.scopes = "ZohoCRM.modules.leads.ALL"
    token = access_token(fake)

    assert get_record(fake, contact_id, token).json() == SCOPE_MISMATCH_BODY
    fake.scopes = ["ZohoCRM.modules.ALL"]
    assert get_record(fake, contact_id, token).status_code == 200


def test_notes_need_the_notes_scope(fake: FakeZoho, contact_id: str) -> None:
    no_notes = fake.add_refresh_token(["ZohoCRM.modules.contacts.ALL"])
    token = access_token(fake, no_notes)
    with api(fake, token) as client:
        response = client.post(
            f"/crm/v8/Contacts/{contact_id}/Notes",
            json={"data": [{"Note_Content": "hello"}]},
        )

    assert response.status_code == 401
    assert response.json()["code"] == "OAUTH_SCOPE_MISMATCH"
    assert fake.notes() == []


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------


def test_get_record_returns_only_the_asked_fields_in_a_data_array(
    fake: FakeZoho, contact_id: str
) -> None:
    with api(fake, access_token(fake)) as client:
        response = client.get(
            f"/crm/v8/Contacts/{contact_id}",
            params={"fields": "First_Name,Email,Department"},
        )

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "id": contact_id,
                "First_Name": "Ana",
                "Email": "ana.silva@example.org",
                "Department": None,
            }
        ]
    }


def test_get_record_without_fields_returns_everything(
    fake: FakeZoho, contact_id: str
) -> None:
    [record] = get_record(fake, contact_id, access_token(fake)).json()["data"]

    assert re.fullmatch(r"\d{19}", contact_id)
    assert record["Full_Name"] == "Ana Silva"
    assert record["Owner"]["id"] == fake.user["id"]
    assert record["Mailing_Country"] == "Portugal"


def test_unknown_record_is_invalid_data_or_204(fake: FakeZoho) -> None:
    token = access_token(fake)
    response = get_record(fake, "4876876000009999999", token)

    assert response.status_code == 400
    assert response.json() == {
        "code": "INVALID_DATA",
        "details": {"resource_path_index": 1},
        "message": "the related id given seems to be invalid",
        "status": "error",
    }
    fake.missing_record_status = 204
    empty = get_record(fake, "4876876000009999999", token)
    assert (empty.status_code, empty.content) == (204, b"")


def test_unknown_module_and_path_errors(fake: FakeZoho) -> None:
    with api(fake, access_token(fake)) as client:
        module = client.get("/crm/v8/Kontakts/4876876000001000001")
        path = client.get("/crm/v8/Contacts/1/Emails/extra")
        method = client.delete("/crm/v8/Contacts/4876876000001000001")

    assert (module.status_code, module.json()["code"]) == (400, "INVALID_MODULE")
    assert (path.status_code, path.json()["code"]) == (404, "INVALID_URL_PATTERN")
    assert (method.status_code, method.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_update_records_the_trigger_list(fake: FakeZoho, contact_id: str) -> None:
    body = {"data": [{"AI_Job_Email": "<p>Hi Ana</p>"}], "trigger": []}
    with api(fake, access_token(fake)) as client:
        quiet = client.put(f"/crm/v8/Contacts/{contact_id}", json=body)
        loud = client.put(
            f"/crm/v8/Contacts/{contact_id}", json={"data": [{"Title": "Nurse"}]}
        )

    [result] = quiet.json()["data"]
    assert quiet.status_code == loud.status_code == 200
    assert (result["code"], result["status"]) == ("SUCCESS", "success")
    assert result["message"] == "record updated"
    assert result["details"]["id"] == contact_id
    first, second = fake.updates("Contacts", contact_id)
    assert (first.trigger, first.workflow_triggered) == ([], False)
    assert first.fields == {"AI_Job_Email": "<p>Hi Ana</p>"}
    assert (second.trigger, second.workflow_triggered) == (None, True)
    assert fake.get_record("Contacts", contact_id)["AI_Job_Email"] == "<p>Hi Ana</p>"


def test_bulk_update_reports_each_item(fake: FakeZoho, contact_id: str) -> None:
    body = {
        "data": [{"id": contact_id, "Title": "Nurse"}, {"Title": "no id"}],
        "trigger": ["workflow"],
    }
    with api(fake, access_token(fake)) as client:
        response = client.put("/crm/v8/Contacts", json=body)

    ok, failed = response.json()["data"]
    assert response.status_code == 207
    assert ok["status"] == "success"
    assert failed["code"] == "MANDATORY_NOT_FOUND"
    assert failed["details"] == {"api_name": "id", "json_path": "$.data[1].id"}
    [update] = fake.updates()
    assert update.trigger == ["workflow"]


def test_field_length_limit_is_an_item_error(fake: FakeZoho, contact_id: str) -> None:
    fake.set_field_limit("Contacts", "AI_Job_Email", 10)
    body = {"data": [{"AI_Job_Email": "x" * 11}], "trigger": []}
    with api(fake, access_token(fake)) as client:
        response = client.put(f"/crm/v8/Contacts/{contact_id}", json=body)

    [item] = response.json()["data"]
    assert response.status_code == 400
    assert item["code"] == "INVALID_DATA"
    assert item["details"]["maximum_length"] == 10
    assert item["details"]["json_path"] == "$.data[0].AI_Job_Email"
    assert fake.updates() == []


# --------------------------------------------------------------------------
# E-mail drafts
# --------------------------------------------------------------------------


def test_creating_a_draft_stores_it_and_returns_its_id(
    fake: FakeZoho, contact_id: str
) -> None:
    response = post_drafts(fake, contact_id, access_token(fake), DRAFT)

    [result] = response.json()["__email_drafts"]
    assert response.status_code == 201
    assert (result["code"], result["status"]) == ("SUCCESS", "success")
    draft_id = result["details"]["id"]
    assert re.fullmatch(r"[0-9a-f]{64}", draft_id)
    [stored] = fake.drafts("Contacts", contact_id)
    assert stored["id"] == draft_id
    assert stored["to"] == DRAFT["to"]
    assert stored["subject"] == DRAFT["subject"]
    assert stored["summary"] == "Hi Ana, We found three openings."
    assert stored["owner"] == {"id": fake.user["id"], "name": fake.user["name"]}


def test_listing_and_reading_drafts(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    base = f"/crm/v8/Contacts/{contact_id}/__email_drafts"
    with api(fake, token) as client:
        empty = client.get(base)
        post_drafts(fake, contact_id, token, *[DRAFT] * 11)
        first_page = client.get(base).json()
        second_page = client.get(base, params={"page": 2}).json()
        draft_id = first_page["__email_drafts"][0]["id"]
        one = client.get(f"{base}/{draft_id}").json()
        unknown = client.get(f"{base}/{'0' * 64}")

    assert empty.status_code == 204
    assert first_page["info"] == {
        "per_page": 10,
        "count": 10,
        "page": 1,
        "more_records": True,
    }
    assert second_page["info"]["count"] == 1
    assert one["__email_drafts"][0]["content"] == DRAFT["content"]
    assert unknown.json()["details"] == {"resource_path_index": 3}


@pytest.mark.parametrize(
    ("change", "code", "details"),
    [
        (
            {"rich_text": None},
            "MANDATORY_NOT_FOUND",
            {"api_name": "rich_text", "json_path": "$.__email_drafts[0].rich_text"},
        ),
        (
            {"from": None},
            "MANDATORY_NOT_FOUND",
            {"api_name": "from", "json_path": "$.__email_drafts[0].from"},
        ),
        (
            {"from": {"user_name": "Us", "email": "us@acme.example"}},
            "INVALID_DATA",
            {
                "api_name": "from",
                "json_path": "$.__email_drafts[0].from",
                "expected_data_type": "email",
            },
        ),
        (
            {"rich_text": "html"},
            "INVALID_DATA",
            {
                "api_name": "rich_text",
                "json_path": "$.__email_drafts[0].rich_text",
                "expected_data_type": "boolean",
            },
        ),
        (
            {"to": [{"user_name": "Ana"}]},
            "MANDATORY_NOT_FOUND",
            {"api_name": "email", "json_path": "$.__email_drafts[0].to[0].email"},
        ),
        (
            {"to": "ana.silva@example.org"},
            "INVALID_DATA",
            {
                "api_name": "to",
                "json_path": "$.__email_drafts[0].to",
                "expected_data_type": "jsonarray",
            },
        ),
    ],
)
def test_invalid_drafts_are_rejected_per_item(
    fake: FakeZoho,
    contact_id: str,
    change: dict[str, Any],
    code: str,
    details: dict[str, str],
) -> None:
    draft = {k: v for k, v in {**DRAFT, **change}.items() if v is not None}
    response = post_drafts(fake, contact_id, access_token(fake), draft)

    [item] = response.json()["__email_drafts"]
    assert response.status_code == 400
    assert (item["code"], item["status"], item["details"]) == (code, "error", details)
    assert fake.drafts("Contacts", contact_id) == []


def test_send_mail_shaped_draft_lacks_rich_text(
    fake: FakeZoho, contact_id: str
) -> None:
    draft = {**DRAFT, "mail_format": "html"}
    del draft["rich_text"]

    response = post_drafts(fake, contact_id, access_token(fake), draft)

    assert response.json()["__email_drafts"][0]["details"]["api_name"] == "rich_text"


def test_mixed_draft_batch_is_207_and_from_addresses_are_enforced(
    fake: FakeZoho, contact_id: str
) -> None:
    fake.from_addresses = {DRAFT["from"]}
    stranger = {**DRAFT, "from": "someone@elsewhere.example"}

    response = post_drafts(fake, contact_id, access_token(fake), DRAFT, stranger)

    ok, refused = response.json()["__email_drafts"]
    assert response.status_code == 207
    assert ok["status"] == "success"
    assert refused["code"] == "INVALID_DATA"
    assert refused["details"]["api_name"] == "from"
    assert len(fake.drafts("Contacts", contact_id)) == 1


def test_drafts_on_unknown_records_and_bad_bodies(fake: FakeZoho) -> None:
    token = access_token(fake)
    unknown = post_drafts(fake, "4876876000009999999", token, DRAFT)
    record_id = fake.add_record("Leads", {"Last_Name": "Okafor"})
    with api(fake, token) as client:
        url = f"/crm/v8/Leads/{record_id}/__email_drafts"
        no_wrapper = client.post(url, json={"data": [DRAFT]})
        too_many = client.post(url, json={"__email_drafts": [DRAFT] * 101})

    assert unknown.json()["details"] == {"resource_path_index": 1}
    assert no_wrapper.status_code == 400
    assert no_wrapper.json()["code"] == "MANDATORY_NOT_FOUND"
    assert too_many.json()["details"]["limit"] == 100
    assert fake.drafts("Leads", record_id) == []


def test_updating_and_deleting_a_draft(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    created = post_drafts(fake, contact_id, token, DRAFT).json()
    draft_id = created["__email_drafts"][0]["details"]["id"]
    base = f"/crm/v8/Contacts/{contact_id}/__email_drafts"
    with api(fake, token) as client:
        bulk = client.put(
            base, json={"__email_drafts": [{"id": draft_id, "subject": "New"}]}
        )
        one = client.put(
            f"{base}/{draft_id}", json={"__email_drafts": [{"content": "plain"}]}
        )
        [stored] = fake.drafts("Contacts", contact_id)
        deleted = client.delete(f"{base}/{draft_id}")

    assert bulk.status_code == one.status_code == 200
    assert (stored["subject"], stored["content"]) == ("New", "plain")
    assert deleted.json()["__email_drafts"][0]["details"] == {"id": draft_id}
    assert fake.drafts("Contacts", contact_id) == []


# --------------------------------------------------------------------------
# Notes
# --------------------------------------------------------------------------


def test_notes_on_a_record_and_in_bulk(fake: FakeZoho, contact_id: str) -> None:
    parent = {"module": {"api_name": "Contacts"}, "id": contact_id}
    with api(fake, access_token(fake)) as client:
        on_record = client.post(
            f"/crm/v8/Contacts/{contact_id}/Notes",
            json={"data": [{"Note_Title": "AI draft", "Note_Content": "Draft made"}]},
        )
        bulk = client.post(
            "/crm/v8/Notes",
            json={"data": [{"Note_Content": "Second", "Parent_Id": parent}]},
        )
        listed = client.get(f"/crm/v8/Contacts/{contact_id}/Notes").json()

    [result] = on_record.json()["data"]
    assert on_record.status_code == bulk.status_code == 201
    assert (result["code"], result["message"]) == ("SUCCESS", "record added")
    assert re.fullmatch(r"\d{19}", result["details"]["id"])
    first, second = fake.notes("Contacts", contact_id)
    assert (first["Note_Title"], first["Note_Content"]) == ("AI draft", "Draft made")
    assert second["Parent_Id"] == parent
    assert [note["id"] for note in listed["data"]] == [first["id"], second["id"]]


def test_invalid_notes_are_rejected(fake: FakeZoho, contact_id: str) -> None:
    items = [
        {"Note_Title": "no content", "Parent_Id": {}},
        {"Note_Content": "old style", "Parent_Id": contact_id},
        {
            "Note_Content": "gone",
            "Parent_Id": {"module": {"api_name": "Leads"}, "id": "1"},
        },
    ]
    with api(fake, access_token(fake)) as client:
        response = client.post("/crm/v8/Notes", json={"data": items})

    missing, old_style, unknown = response.json()["data"]
    assert response.status_code == 400
    assert missing["details"]["api_name"] == "Note_Content"
    assert old_style["details"]["expected_data_type"] == "jsonobject"
    assert unknown["message"] == "the related id given seems to be invalid"
    assert fake.notes() == []


# --------------------------------------------------------------------------
# Faults and outages
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (too_many_requests(), 429, "TOO_MANY_REQUESTS"),
        (server_error(500), 500, "INTERNAL_ERROR"),
        (server_error(503), 503, "INTERNAL_ERROR"),
        (invalid_token(), 401, "INVALID_TOKEN"),
        (scope_mismatch(), 401, "OAUTH_SCOPE_MISMATCH"),
        (authentication_failure(), 401, "AUTHENTICATION_FAILURE"),
    ],
)
def test_json_fault_helpers(
    fake: FakeZoho, contact_id: str, fault: Fault, status: int, code: str
) -> None:
    token = access_token(fake)
    fake.fail_next("records", fault)

    failed = get_record(fake, contact_id, token)
    after = get_record(fake, contact_id, token)

    assert failed.status_code == status
    assert failed.json()["code"] == code
    assert failed.json()["status"] == "error"
    assert "retry-after" not in failed.headers
    assert after.status_code == 200
    assert fake.pending_faults() == 0


def test_too_many_requests_may_carry_the_credits_header(
    fake: FakeZoho, contact_id: str
) -> None:
    token = access_token(fake)
    fake.fail_next("drafts", too_many_requests(credits_remaining=0))

    response = post_drafts(fake, contact_id, token, DRAFT)

    assert response.status_code == 429
    assert response.headers["x-api-credits-remaining"] == "0"
    assert fake.drafts("Contacts", contact_id) == []


def test_html_error_has_an_html_body(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    fake.fail_next("records", html_error(502))

    response = get_record(fake, contact_id, token)

    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text


def test_faults_are_per_kind_and_consumed_in_order(
    fake: FakeZoho, contact_id: str
) -> None:
    token = access_token(fake)
    fake.fail_next("drafts", 503, 429)

    record = get_record(fake, contact_id, token)
    statuses = [post_drafts(fake, contact_id, token, DRAFT).status_code for _ in "abc"]

    assert record.status_code == 200
    assert statuses == [503, 429, 201]
    assert len(fake.drafts("Contacts", contact_id)) == 1


def test_note_faults(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    fake.fail_next("notes", server_error(502))
    with api(fake, token) as client:
        response = client.post(
            f"/crm/v8/Contacts/{contact_id}/Notes",
            json={"data": [{"Note_Content": "x"}]},
        )

    assert response.status_code == 502
    assert fake.notes() == []


@pytest.mark.parametrize(
    ("fault", "body"),
    [
        (invalid_client(), {"error": "invalid_client"}),
        (invalid_client_secret(), {"error": "invalid_client_secret"}),
        (invalid_code(), {"error": "invalid_code"}),
        (token_error("access_denied"), {"error": "access_denied"}),
        (
            token_throttled(),
            {
                "error_description": "You have made too many requests continuously. "
                "Please try again after some time.",
                "error": "Access Denied",
                "status": "failure",
            },
        ),
    ],
)
def test_token_fault_helpers_answer_http_200(
    fake: FakeZoho, fault: Fault, body: dict[str, str]
) -> None:
    fake.fail_next("token", fault)

    failed = token_response(fake)
    after = token_response(fake)

    assert failed.status_code == 200
    assert failed.json() == body
    assert "access_token" in after.json()
    assert fake.token_requests == 2


def test_token_endpoint_server_error(fake: FakeZoho) -> None:
    fake.fail_next("token", 500)

    assert token_response(fake).status_code == 500


def test_slow_fault_delays_then_answers(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    fake.fail_next("records", slow(0.3), slow(0.1, then=server_error(503)))

    started = time.monotonic()
    slow_ok = get_record(fake, contact_id, token)
    middle = time.monotonic()
    slow_fail = get_record(fake, contact_id, token)
    ended = time.monotonic()

    assert slow_ok.status_code == 200
    assert middle - started >= 0.3
    assert slow_fail.status_code == 503
    assert ended - middle >= 0.1


def test_slow_fault_trips_a_client_timeout(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    fake.fail_next("records", slow(1.0))
    headers = {"Authorization": f"Zoho-oauthtoken {token}"}

    with pytest.raises(httpx.ReadTimeout):
        http_get(
            f"{fake.api_domain}/crm/v8/Contacts/{contact_id}",
            headers=headers,
            timeout=0.2,
        )


def test_set_down_answers_503_until_back_up(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    fake.set_down(True)

    down = get_record(fake, contact_id, token)
    refresh_while_down = token_response(fake)
    fake.set_down(False)
    up = get_record(fake, contact_id, token)

    assert down.status_code == 503
    assert down.headers["content-type"].startswith("text/html")
    assert "access_token" in refresh_while_down.json()
    assert up.status_code == 200


def test_down_for_counts_api_requests(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    fake.down_for(2)

    statuses = [get_record(fake, contact_id, token).status_code for _ in range(3)]

    assert statuses == [503, 503, 200]


def test_concurrency_cap_answers_429(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    fake.max_concurrency = 1
    fake.fail_next("records", slow(0.3))

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(get_record, fake, contact_id, token)
        time.sleep(0.1)
        second = pool.submit(get_record, fake, contact_id, token)
        statuses = sorted([first.result().status_code, second.result().status_code])

    assert statuses == [200, 429]
    assert fake.max_concurrent_api_requests == 2


def test_credits_header_is_sent_when_set(fake: FakeZoho, contact_id: str) -> None:
    fake.credits_remaining = 1234

    response = get_record(fake, contact_id, access_token(fake))

    assert response.headers["x-api-credits-remaining"] == "1234"


def test_fail_next_rejects_unknown_kinds(fake: FakeZoho) -> None:
    with pytest.raises(ValueError, match="kind"):
        fake.fail_next("emails", 500)
    with pytest.raises(ValueError, match="5xx"):
        server_error(404)


# --------------------------------------------------------------------------
# Housekeeping
# --------------------------------------------------------------------------


def test_requests_are_logged_with_their_authorization(
    fake: FakeZoho, contact_id: str
) -> None:
    token = access_token(fake)
    get_record(fake, contact_id, token)

    api_request = fake.requests[-1]
    assert api_request.method == "GET"
    assert api_request.path == f"/crm/v8/Contacts/{contact_id}"
    assert api_request.headers["authorization"] == f"Zoho-oauthtoken {token}"


def test_reset_forgets_data_tokens_and_faults(fake: FakeZoho, contact_id: str) -> None:
    token = access_token(fake)
    post_drafts(fake, contact_id, token, DRAFT)
    fake.fail_next("records", 500)
    fake.set_down(True)

    fake.reset()

    assert fake.get_record("Contacts", contact_id) is None
    assert fake.drafts("Contacts", contact_id) == []
    assert (fake.token_requests, fake.pending_faults(), fake.requests) == (0, 0, [])
    new_id = fake.add_record("Contacts", CONTACT)
    assert get_record(fake, new_id, token).status_code == 401
    assert get_record(fake, new_id, access_token(fake)).status_code == 200


def test_instances_do_not_share_data(fake: FakeZoho, contact_id: str) -> None:
    with FakeZoho() as other:
        assert other.api_domain != fake.api_domain
        assert other.get_record("Contacts", contact_id) is None


def test_module_runs_standalone() -> None:
    command = [sys.executable, "-m", "tests.fakes.zoho_server", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True, env=env
    ) as process:
        try:
            assert process.stdout is not None
            lines = [process.stdout.readline() for _ in range(7)]
            printed = dict(line.strip().split(": ", 1) for line in lines[1:])
            form = {
                "grant_type": "refresh_token",
                "client_id": printed["client_id"],
                "client_secret": printed["client_secret"],
                "refresh_token": printed["refresh_token"],
            }
            url = f"{printed['accounts_url']}/oauth/v2/token"
            body = http_post(url, data=form, timeout=5).json()
        finally:
            process.terminate()

    assert printed["accounts_url"].startswith("http://127.0.0.1:")
    assert body["api_domain"] == printed["accounts_url"]
    assert re.fullmatch(r"\d{19}", printed["sample Contacts record id"])
