"""Process configuration, read once from the environment.

Every variable keeps the name the README documents; the `OPENPOINT_` ones are read through the
env prefix, the three shared with other tools (`DATABASE_URL`, `TEMPORAL_*`) by alias.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENPOINT_", extra="ignore")

    database_url: str = Field(default="", validation_alias=AliasChoices("DATABASE_URL", "OPENPOINT_DATABASE_URL"))
    temporal_address: str = Field(
        default="", validation_alias=AliasChoices("TEMPORAL_ADDRESS", "OPENPOINT_TEMPORAL_ADDRESS")
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "OPENPOINT_TEMPORAL_NAMESPACE"),
    )
    task_queue: str = "openpoint"
    # Which queues `openpoint worker` polls: "all" (the workflows' queue and the sends' queue,
    # task_queue + "-sends"), "workflows" (workflows and every other activity) or "sends" (only the
    # campaigns' pages and direct sends), so that sends can run on replicas of their own.
    worker_queues: Literal["all", "workflows", "sends"] = "all"
    # The Temporal Web UI's base URL (http://host:8233): the console links each journey
    # participant to its workflow there. `make run` sets it for the embedded Temporal; empty: no links.
    temporal_ui_url: str = ""
    # Connections per process. Sized so that a busy gateway never opens overflow connections,
    # which PostgreSQL would fork a backend for on every checkout.
    db_pool_size: int = 20
    # How the gateway answers while PostgreSQL is down or hung: within about a second or two, a
    # retryable error, rather than holding the request. Connecting and waiting for a pooled
    # connection have deadlines; a connection held longer than db_stall_seconds makes the gateway
    # check that the server answers at all (within db_probe_timeout_seconds), and cut the
    # connections of one that does not. The statement timeout (0: none) is a backstop only, since
    # a live server's slow statements are legitimate. The worker keeps longer defaults (store.db).
    db_connect_timeout_seconds: float = 1.0
    db_pool_timeout_seconds: float = 1.0
    db_statement_timeout_seconds: float = 60.0
    db_stall_seconds: float = 0.5
    db_probe_timeout_seconds: float = 1.0
    # How long the gateway retries a Temporal call that cannot reach the server before answering
    # a retryable error (direct sends, starting campaigns, journeys and jobs).
    temporal_retry_seconds: float = 1.5

    host: str = "127.0.0.1"
    port: int = 8080
    api_workers: int = 1  # gateway processes; the gateway is stateless
    public_url: str = ""  # how recipients reach the gateway (tracking links); defaults to host:port

    data_dir: Path = Path(".data")
    # Root key that encrypts secrets at rest (base64 of 32 bytes). Unset in development: a key is
    # generated once into the data directory.
    master_key: str = ""

    access_key_id: str = ""
    secret_access_key: str = ""
    region: str = "us-east-1"
    account_id: str = "000000000000"

    smtp_url: str = "smtp://127.0.0.1:1025"
    smtp_timeout_seconds: float = 30.0

    # Import/export jobs: `file://` URLs must lie under this folder (unset: refused);
    # `s3://` goes to this endpoint when set (MinIO or any S3-compatible store).
    file_root: Path | None = None
    s3_endpoint_url: str = ""

    # SMS and voice go through Twilio. The account may also be set per project (channel
    # credentials); the API URL is configurable for regional edges and for tests.
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_url: str = "https://api.twilio.com"
    # Sender when neither the message (OriginationNumber) nor the SMS channel (ShortCode,
    # SenderId) names one: a Twilio number, or a Messaging Service SID (MG...).
    twilio_from: str = ""
    # Push through FCM's HTTP v1 API (the OAuth token URL is the service account's `token_uri`),
    # and APNs over HTTP/2 (production; the sandbox URL serves APNS_SANDBOX / APNS_VOIP_SANDBOX).
    fcm_api_url: str = "https://fcm.googleapis.com"
    apns_api_url: str = "https://api.push.apple.com"
    apns_sandbox_api_url: str = "https://api.sandbox.push.apple.com"
    # Custom-channel webhooks are signed with this secret (HMAC-SHA256); unset: derived from the
    # master key and shown by `openpoint webhook-secret`. Webhooks and https:// import sources may
    # not reach private, loopback or link-local addresses unless their networks are listed in
    # webhook_allowed_networks (comma-separated CIDRs).
    webhook_signing_secret: str = ""
    webhook_allowed_networks: str = ""
    webhook_timeout_seconds: float = 10.0
    # Provider connections one campaign send activity keeps busy at once (sending/fanout.py);
    # raise it where the provider accepts more (an SMTP relay's or a webhook's connection limit).
    send_concurrency: int = Field(default=8, ge=1, le=64)
    # Custom channels, journey CUSTOM activities and campaign hooks may name AWS Lambda functions,
    # invoked with boto3: credentials from the environment (AWS_* variables, a profile, an
    # instance role) unless the project holds its own (`openpoint channels credentials PROJECT
    # CUSTOM Lambda...=`). A function named without an ARN runs in lambda_region (unset: the
    # environment's AWS region, else us-east-1); lambda_endpoint_url points at a Lambda-compatible
    # server instead of AWS. A function has lambda_timeout_seconds to answer (Pinpoint: 15 s for
    # hooks); a function that does not is retried like an unreachable provider.
    lambda_endpoint_url: str = ""
    lambda_region: str = ""
    lambda_timeout_seconds: float = 30.0
    # Secret that signs tracking links (open pixel, click redirect, unsubscribe); unset: derived
    # from the master key.
    tracking_secret: str = ""

    # An event-triggered campaign message that cannot go out this long after its event is dropped
    # and counted (MAXIMUM_DELAY_EXCEEDED); Pinpoint's delay is 5 minutes.
    trigger_max_delay_seconds: float = 300.0
    # Whether a worker process also runs the outbox dispatcher (worker/dispatcher.py). Every
    # worker may (they share the rows); turn it off for workers on task queues of their own.
    dispatch_outbox: bool = True
    # Analytics: raw events and rollups are kept this many days (Pinpoint: 90); whether a worker
    # process also runs the rollup loop (worker/rollups.py: one folds at a time, others wait).
    analytics_retention_days: int = 90
    analytics_rollups: bool = True
    # How often a caught-up rollup loop looks again (pages lag about this much; longer costs
    # PutEvents less, worker/rollups.py).
    analytics_rollup_poll_seconds: float = 1.0
    # The analytics pages' backend: unset, PostgreSQL (the rollups); `chdb:///abs/dir`, ClickHouse
    # embedded (chDB: the gateway owning the directory also runs the feeder that copies events
    # into it); `http(s)://host:8123/db`, a ClickHouse server (untested here). docs/analytics.md.
    analytics_url: str = ""
    # Event streams (PutEventStream): whether a worker process also runs the streamer
    # (worker/streamer.py; every worker may, each project is streamed by one at a time), how
    # often it looks for new events, and Kinesis- / Firehose-compatible servers to send to instead
    # of AWS (LocalStack, moto, a proxy). Credentials: the environment's AWS chain, or the role a
    # stream names, assumed with them (STS honours AWS_ENDPOINT_URL_STS).
    stream_events: bool = True
    event_stream_poll_seconds: float = 0.2
    event_stream_max_backoff_seconds: float = 60.0
    kinesis_endpoint_url: str = ""
    firehose_endpoint_url: str = ""

    # SigV4 allows this much clock skew, as AWS does.
    max_clock_skew_seconds: int = 900

    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
