"""Settings from the environment, then `.env.local`, then `.env`.

Empty values count as unset, so `OPENAI_API_KEY=` in a file means "no key".
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as PydanticSettingsError

from integration.errors import ServiceError


class SettingsError(ServiceError):
    """A setting has a value the service cannot run with."""

    code = "bad_setting"


MIN_ADMIN_TOKEN_LENGTH = 16
FIELD_MAP_KEYS = ("country", "occupation", "name", "email", "language")

# Where each input is read from when a webhook leaves it out. The country
# fields hold where a contact lives; map `country` to a target-country field
# of your own when that differs.
DEFAULT_FIELD_MAP: dict[str, dict[str, str]] = {
    "Contacts": {
        "country": "Mailing_Country",
        "occupation": "Title",
        "name": "Full_Name",
        "email": "Email",
    },
    "Leads": {
        "country": "Country",
        "occupation": "Designation",
        "name": "Full_Name",
        "email": "Email",
    },
}


class Settings(BaseSettings):
    """Every knob of the service; names match the environment variables."""

    model_config = SettingsConfigDict(
        env_file=(".env", ".env.local"),
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    # Where the service listens and how the outside reaches it.
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    base_url: str | None = None
    max_body_bytes: int = Field(64 * 1024, ge=1024)

    # Job store.
    data_dir: Path = Path("./data")
    job_ttl_days: float = Field(7, gt=0, le=3650, allow_inf_nan=False)
    mongodb_connection_string: SecretStr | None = None
    mongodb_database: str = "jobmail"
    mongodb_max_pool_size: int = Field(50, ge=1, le=1000)
    mongodb_timeout_ms: int = Field(3000, ge=100)
    mongodb_socket_timeout_ms: int = Field(20_000, ge=100)

    # Local worker and the job life cycle.
    worker_concurrency: int = Field(4, ge=1, le=256)
    worker_poll_seconds: float = Field(1.0, gt=0, le=60, allow_inf_nan=False)
    job_lease_seconds: float = Field(60, gt=0, le=3600, allow_inf_nan=False)
    job_max_attempts: int = Field(3, ge=1, le=20)
    job_retry_delay_seconds: float = Field(5, ge=0, le=3600, allow_inf_nan=False)
    shutdown_grace_seconds: float = Field(10, ge=0, le=3600, allow_inf_nan=False)

    # QStash dispatch; without a token the local worker runs every job.
    qstash_token: SecretStr | None = None
    qstash_url: str = "https://qstash.upstash.io"
    qstash_current_signing_key: SecretStr | None = None
    qstash_next_signing_key: SecretStr | None = None
    qstash_retries: int = Field(3, ge=0, le=20)
    qstash_timeout_seconds: int = Field(300, ge=10)
    qstash_sweep_after_seconds: float = Field(600, gt=0, le=86_400, allow_inf_nan=False)

    # Zoho CRM: drafts out (with OAuth settings) and workflow webhooks in.
    zoho_client_id: str | None = None
    zoho_client_secret: SecretStr | None = None
    zoho_refresh_token: SecretStr | None = None
    zoho_accounts_url: str = "https://accounts.zoho.com"
    zoho_from_email: str | None = None
    zoho_webhook_secret: SecretStr | None = None
    zoho_dedupe_window_seconds: float = Field(600, ge=0, le=86_400, allow_inf_nan=False)
    zoho_push_max_attempts: int = Field(8, ge=1, le=50)
    zoho_retry_wait_seconds: float = Field(1.0, ge=0, le=3600, allow_inf_nan=False)
    zoho_add_note: bool = False
    # Added to (not replacing) DEFAULT_FIELD_MAP, module by module.
    zoho_field_map: dict[str, dict[str, str]] = Field(default_factory=dict)

    # The writer.
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4.1-mini"
    openai_timeout_seconds: float = Field(45, gt=0, le=3600, allow_inf_nan=False)
    openai_max_retries: int = Field(2, ge=0, le=10)
    openai_max_output_tokens: int = Field(700, ge=64)
    openai_token_parameter: Literal["max_completion_tokens", "max_tokens"] = (
        "max_completion_tokens"
    )
    openai_temperature: float | None = Field(0.7, ge=0, le=2, allow_inf_nan=False)

    # Logging.
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    # Access and limits.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    admin_token: SecretStr | None = None
    rate_limit_per_minute: int = Field(60, ge=1, le=100_000)
    max_queued_per_key: int = Field(100, ge=1, le=1_000_000)
    cors_allow_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("api_keys", "cors_allow_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [key.strip() for key in value.split(",") if key.strip()]
        return value

    @field_validator("base_url", "openai_base_url", "qstash_url", "zoho_accounts_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = urlsplit(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _check_qstash(self) -> Settings:
        if self.qstash_token is None:
            return self
        if self.base_url is None:
            raise ValueError(
                "BASE_URL must be set when QSTASH_TOKEN is: QStash calls this service"
                " back at that public URL"
            )
        if self.qstash_current_signing_key is None:
            raise ValueError(
                "QSTASH_CURRENT_SIGNING_KEY must be set when QSTASH_TOKEN is, to"
                " verify deliveries"
            )
        return self

    @field_validator("zoho_field_map", mode="after")
    @classmethod
    def _merge_field_map(
        cls, value: dict[str, dict[str, str]]
    ) -> dict[str, dict[str, str]]:
        merged = {module: dict(fields) for module, fields in DEFAULT_FIELD_MAP.items()}
        for module, fields in value.items():
            unknown = sorted(set(fields) - set(FIELD_MAP_KEYS))
            if unknown:
                allowed = ", ".join(FIELD_MAP_KEYS)
                raise ValueError(
                    f"{module}: unknown input {unknown[0]!r}; use {allowed}"
                )
            merged.setdefault(module, dict(DEFAULT_FIELD_MAP["Contacts"])).update(
                fields
            )
        return merged

    @model_validator(mode="after")
    def _check_admin_token(self) -> Settings:
        if self.admin_token is None:
            return self
        token = self.admin_token.get_secret_value()
        if len(token) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(
                f"ADMIN_TOKEN must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long"
            )
        if token in self.api_keys:
            raise ValueError("ADMIN_TOKEN must differ from every key in API_KEYS")
        return self

    @model_validator(mode="after")
    def _check_zoho(self) -> Settings:
        credentials = (
            self.zoho_client_id,
            self.zoho_client_secret,
            self.zoho_refresh_token,
        )
        if all(value is None for value in credentials):
            if self.zoho_webhook_secret is not None:
                raise ValueError(
                    "ZOHO_WEBHOOK_SECRET is set but ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET"
                    " and ZOHO_REFRESH_TOKEN are not: webhooks could not make drafts"
                )
            return self
        if any(value is None for value in credentials):
            raise ValueError(
                "ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN must be set"
                " together"
            )
        if self.zoho_from_email is None:
            raise ValueError("ZOHO_FROM_EMAIL must be set to create e-mail drafts")
        return self

    @property
    def qstash_signing_keys(self) -> list[str]:
        keys = (self.qstash_current_signing_key, self.qstash_next_signing_key)
        return [key.get_secret_value() for key in keys if key is not None]

    @property
    def job_ttl(self) -> timedelta:
        return timedelta(days=self.job_ttl_days)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a bad value into one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_settings_error(exc)) from None
    except PydanticSettingsError as exc:
        # Raised before validation, e.g. for a JSON setting that is not JSON.
        field = re.search(r'field "(\w+)"', str(exc))
        name = field.group(1).upper() if field else "settings"
        cause = exc.__cause__ or exc
        raise SettingsError(f"invalid setting {name}: {cause}") from None


def describe_settings_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    if not first["loc"]:
        # A rule across several settings; its message names them.
        return f"invalid settings: {str(first['msg']).removeprefix('Value error, ')}"
    name = str(first["loc"][0]).upper()
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    more = len(exc.errors()) - 1
    tail = f"; and {more} more" if more else ""

    message = str(first["msg"]).removeprefix("Value error, ")
    return f"invalid setting {name}: {message}{shown}{tail}"
