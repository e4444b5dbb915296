"""The endpoints QStash calls: job deliveries and the give-up callback."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from integration.problems import problem, problem_responses
from integration.qstash import (
    FAILED_PATH,
    NON_RETRYABLE_STATUS,
    PROCESS_PATH,
    QStashDispatcher,
    SignatureError,
    job_id_from_delivery,
    job_id_from_failure,
    verify_signature,
)
from integration.services import Services

log = structlog.get_logger()

# Deliveries carry only a job id; anything bigger is refused before it is read.
MAX_DELIVERY_BYTES = 16 * 1024


class DeliveryController(Controller):
    """Only deliveries signed by QStash with our signing keys get in."""

    path = ""
    tags = ["qstash"]
    request_max_body_size = MAX_DELIVERY_BYTES

    @post(
        PROCESS_PATH,
        summary="Run a job (QStash delivery)",
        status_code=200,
        responses=problem_responses(401, 404, 413, 489, 503),
    )
    async def process(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services]
    ) -> Response[dict[str, Any]]:
        dispatcher = await _verified(request, services, PROCESS_PATH)
        job_id = job_id_from_delivery(await request.body())
        if job_id is None:
            body = {"error": "the delivery has no jobId"}
            headers = {"Upstash-NonRetryable-Error": "true"}
            return Response(body, status_code=NON_RETRYABLE_STATUS, headers=headers)

        with structlog.contextvars.bound_contextvars(job_id=job_id):
            retried = request.headers.get("upstash-retried", "0")
            log.info("job_delivered", retried=retried)
            outcome = await dispatcher.deliver(job_id)

        return Response(
            outcome.body, status_code=outcome.status_code, headers=outcome.headers
        )

    @post(
        FAILED_PATH,
        summary="QStash gave up on a job",
        status_code=200,
        responses=problem_responses(401, 404, 413, 503),
    )
    async def failed(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services]
    ) -> dict[str, str]:
        dispatcher = await _verified(request, services, FAILED_PATH)
        job_id, status, retried = job_id_from_failure(await request.body())
        if job_id is not None:
            log.warning("job_delivery_exhausted", job_id=job_id, last_status=status)
            await dispatcher.give_up(job_id, status, retried)

        return {"status": "received"}


async def _verified(
    request: Request[Any, Any, Any], services: Services, path: str
) -> QStashDispatcher:
    dispatcher = services.dispatcher
    settings = services.settings
    if not isinstance(dispatcher, QStashDispatcher) or settings.base_url is None:
        raise problem(404, "not-found", "QStash dispatch is not configured.")

    # The signed URL is the public one we published, not what a proxy shows us.
    try:
        verify_signature(
            request.headers.get("upstash-signature"),
            await request.body(),
            settings.qstash_signing_keys,
            settings.base_url + path,
        )
    except SignatureError as exc:
        log.warning("delivery_rejected", path=path, reason=exc.message)
        raise problem(401, "bad-signature", exc.message) from exc

    return dispatcher
