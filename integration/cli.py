"""The `jobmail` command: run the server, or write one e-mail without it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from generation.base import SUPPORTED_LANGUAGES, SUPPORTED_TONES, EmailRequest
from generation.compose import write_email
from integration.errors import ServiceError
from integration.services import make_writer
from integration.settings import Settings, SettingsError, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `jobmail`; returns the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "generate":
        _check_texts(parser, args)
    try:
        settings = load_settings()
        if args.command == "serve":
            return _serve(settings, args)
        return asyncio.run(_generate(settings, args))
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
    serve.add_argument("--port", type=int, help="port to listen on (default: PORT)")

    generate = commands.add_parser("generate", help="write one e-mail and print it")
    generate.add_argument("--country", required=True)
    generate.add_argument("--occupation", required=True)
    generate.add_argument("--client-name", required=True)
    generate.add_argument("--language", default="en", choices=SUPPORTED_LANGUAGES)
    generate.add_argument("--tone", default="warm", choices=SUPPORTED_TONES)

    return parser


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app import create_app

    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
    )
    return 0


async def _generate(settings: Settings, args: argparse.Namespace) -> int:
    request = EmailRequest(
        client_name=args.client_name,
        country=args.country,
        occupation=args.occupation,
        language=args.language,
        tone=args.tone,
    )
    writer = make_writer(settings)
    try:
        email = await write_email(writer, request)
    finally:
        await writer.aclose()

    print(f"Subject: {email.subject}\n\n{email.body}")
    print(f"\n(provider: {email.provider}, model: {email.model})", file=sys.stderr)
    return 0


def _check_texts(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    for name in ("country", "occupation", "client_name"):
        value = getattr(args, name).strip()
        if not value:
            flag = "--" + name.replace("_", "-")
            parser.error(f"{flag} must not be empty")
        setattr(args, name, value)


if __name__ == "__main__":
    raise SystemExit(main())
