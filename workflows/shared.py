"""The dataclasses that cross the workflow/activity boundary.

Each carries only JSON-friendly values so histories stay readable in the Web UI, and new
optional fields can be added without breaking running workflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# DeliveryStatus values of the model, and the ones that end a delivery for good.
SUCCESSFUL = "SUCCESSFUL"
THROTTLED = "THROTTLED"
TEMPORARY_FAILURE = "TEMPORARY_FAILURE"
PERMANENT_FAILURE = "PERMANENT_FAILURE"
UNKNOWN_FAILURE = "UNKNOWN_FAILURE"
OPT_OUT = "OPT_OUT"
DUPLICATE = "DUPLICATE"


@dataclass
class Recipient:
    key: str  # idempotency key: workflow id + step + address or endpoint
    address: str
    endpoint_id: str | None = None
    # The endpoint as message variables see it (Attributes, User, Demographic, ...).
    endpoint: dict[str, Any] = field(default_factory=dict)
    substitutions: dict[str, list[str]] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)  # BodyOverride, TitleOverride, RawContent
    context: dict[str, str] = field(default_factory=dict)
    # Substitutions that must not be readable in the history (one-time passwords), encrypted by
    # openpoint.vault.seal; the worker opens them just before rendering.
    sealed: str | None = None


@dataclass
class DeliveryBatch:
    """Recipients of one message on one channel.

    `content` is the channel's message, chosen from the request or template by the gateway
    (rules/messages.py documents its keys per channel); providers render it per recipient.
    `attributes` (campaign id, treatment, journey activity, ...) go onto every standard event
    the delivery and its later engagement record.
    """

    app_id: str
    channel: str
    source: str  # direct | campaign | journey | otp
    source_id: str
    content: dict[str, Any]
    recipients: list[Recipient]
    max_attempts: int = 4
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class DeliveryResult:
    key: str
    address: str
    endpoint_id: str | None
    delivery_status: str
    status_code: int
    status_message: str
    message_id: str | None = None


@dataclass
class DirectSendInput:
    app_id: str
    batches: list[DeliveryBatch]


@dataclass
class DirectSendOutput:
    results: list[DeliveryResult]
