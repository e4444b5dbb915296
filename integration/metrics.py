"""Prometheus metrics: requests (Litestar's middleware) and the job life cycle."""

from __future__ import annotations

from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import Counter, Gauge, Histogram

from generation.base import Email

JOB_EVENTS = Counter(
    "jobmail_job_events_total",
    "Job state changes: queued, completed, failed, requeued.",
    ["event"],
)
JOB_FAILURES = Counter(
    "jobmail_job_failures_total", "Jobs that failed, by error code.", ["code"]
)
JOBS = Gauge("jobmail_jobs", "Jobs in the store, by status.", ["status"])
QUEUE_DEPTH = Gauge("jobmail_queue_depth", "Jobs waiting to run.")
GENERATION_SECONDS = Histogram(
    "jobmail_generation_seconds",
    "Time to write one e-mail, checks included.",
    ["provider"],
    buckets=(0.05, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80),
)
TOKENS = Counter("jobmail_tokens_total", "Model tokens used.", ["kind"])
RETRIES = Counter("jobmail_retries_total", "Retries, by reason.", ["reason"])
ZOHO_PUSHES = Counter(
    "jobmail_zoho_pushes_total", "Zoho draft pushes, by outcome.", ["status"]
)


def prometheus_config() -> PrometheusConfig:
    # Paths are grouped by route, so each job id does not become its own series.
    return PrometheusConfig(app_name="jobmail", prefix="jobmail", group_path=True)


def record_email(email: Email, seconds: float) -> None:
    """Count one written e-mail: its time, tokens and in-call retries."""
    GENERATION_SECONDS.labels(provider=email.provider).observe(seconds)
    for kind, count in (email.usage or {}).items():
        TOKENS.labels(kind=kind).inc(count)
    for reason in email.notes:
        RETRIES.labels(reason=reason).inc()
