"""The `jobmail` command: run the server, or write one e-mail without it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from generation.base import SUPPORTED_LANGUAGES, SUPPORTED_TONES, EmailRequest
from generation.compose import write_email
from integration.errors import ServiceError
from integration.schemas import JobRequest
from integration.services import make_writer
from integration.settings import Settings, SettingsError, load_settings

LOWEST_PORT = 1
HIGHEST_PORT = 65535
# The `JobRequest` field each `generate` flag fills, by the field's API name.
_FLAG_FOR_FIELD = {
    "country": "--country",
    "occupation": "--occupation",
    "clientName": "--client-name",
    "language": "--language",
    "tone": "--tone",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `jobmail`; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _with_settings(lambda settings: _serve(settings, args))

    request = _checked_email_request(parser, args)
    return _with_settings(lambda settings: asyncio.run(_generate(settings, request)))


def _with_settings(command: Callable[[Settings], int]) -> int:
    """Run the command; a bad setting or a service failure becomes one line."""
    try:
        return command(load_settings())
    except SettingsError as exc:
        print(f"jobmail: {exc.message}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        print(f"jobmail: {exc.message} ({exc.code})", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jobmail", description="Personalised job-opportunity e-mails."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", help="address to listen on (default: HOST)")
    serve.add_argument(
        "--port", type=_port, help="port to listen on, 1 to 65535 (default: PORT)"
    )

    generate = commands.add_parser("generate", help="write one e-mail and print it")
    generate.add_argument("--country", required=True)
    generate.add_argument("--occupation", required=True)
    generate.add_argument("--client-name", required=True)
    generate.add_argument("--language", default="en", choices=SUPPORTED_LANGUAGES)
    generate.add_argument("--tone", default="warm", choices=SUPPORTED_TONES)

    return parser


def _port(text: str) -> int:
    """An argparse type: a TCP port a server can listen on."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not LOWEST_PORT <= port <= HIGHEST_PORT:
        raise argparse.ArgumentTypeError(
            f"must be a whole number from {LOWEST_PORT} to {HIGHEST_PORT}, got {text!r}"
        )
    return port


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app import create_app

    if settings.mongodb_connection_string is None:
        _create_data_dir(settings.data_dir)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        log_config=None,
        # The access log prints query strings, where a webhook secret may be;
        # the app writes its own `request_finished` line without them.
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
    )
    return 0


def _create_data_dir(data_dir: Path) -> None:
    """Make the SQLite store's folder now, so a bad DATA_DIR is one line."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SettingsError(
            f"DATA_DIR {data_dir} cannot be created: {reason}"
        ) from None


async def _generate(settings: Settings, request: EmailRequest) -> int:
    writer = make_writer(settings)
    try:
        email = await write_email(writer, request)
    finally:
        await writer.aclose()

    print(f"Subject: {email.subject}\n\n{email.body}")
    print(f"\n(provider: {email.provider}, model: {email.model})", file=sys.stderr)
    return 0


def _checked_email_request(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> EmailRequest:
    """The flags checked by the API's own rules; a failure exits with code 2."""
    given = {
        "country": args.country,
        "occupation": args.occupation,
        "clientName": args.client_name,
        "language": args.language,
        "tone": args.tone,
    }
    try:
        checked = JobRequest.model_validate(given)
    except ValidationError as exc:
        parser.error(_describe_flag_error(exc.errors()[0]))

    return EmailRequest(
        client_name=checked.client_name,
        country=checked.country,
        occupation=checked.occupation,
        language=checked.language,
        tone=checked.tone,
    )


def _describe_flag_error(error: ErrorDetails) -> str:
    field = str(error["loc"][0]) if error["loc"] else ""
    flag = _FLAG_FOR_FIELD.get(field, "input")
    if error["type"] == "string_too_short":
        return f"{flag}: must not be empty"
    message = error["msg"].removeprefix("Value error, ")
    return f"{flag}: {message}"


if __name__ == "__main__":
    raise SystemExit(main())
