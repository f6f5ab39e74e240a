"""The channel-specific parts of the event-stream records of email and SMS events, as Pinpoint
streamed them (the developer guide's "Email events" and "SMS events" pages), built from what
OpenPoint's standard events carry (channels/deliverer.py, api/routes/engagement.py,
api/routes/twilio_hooks.py write them).

Email events get `facets.email_channel.mail_event`: `mail` (message_id, message_send_timestamp,
from_address, destination, headers_truncated, headers, common_headers) and one sub-object named
by the event (`send`, `delivery`, `open`, `click`, `bounce`, `complaint`, `unsubscribe`,
`reject`), and `attributes.feedback` as Pinpoint set it. SMS events get Pinpoint's attributes
(destination_phone_number, record_status, iso_country_code, ...) and, when known,
`metrics.price_in_millicents_usd`.

A field OpenPoint does not know is left out rather than made up: the relay's SMTP answer,
opener's IP and user agent, SMS prices and parts are there only when an event carries them
(as attributes of those names); the From address and subject only when the event carries
`from_address` / `subject`; the send time of opens and clicks only as `message_send_timestamp`.
The stored attributes all stay in the record, beside Pinpoint's.
"""

from __future__ import annotations

from typing import Any

from rules.kpis import country_of

# Pinpoint's email events and the mail_event sub-object each one carries.
_EMAIL_PARTS = {
    "_email.send": "send",
    "_email.delivered": "delivery",
    "_email.open": "open",
    "_email.click": "click",
    "_email.hardbounce": "bounce",
    "_email.softbounce": "bounce",
    "_email.complaint": "complaint",
    "_email.unsubscribe": "unsubscribe",
    "_email.rejected": "reject",
}
# Events that happen when the message leaves: their own time is the send time.
_AT_SEND = frozenset({"_email.send", "_email.delivered", "_email.rejected"})
_FEEDBACK = {"_email.send": "received", "_email.delivered": "delivered", "_email.open": "opened"}

# Twilio's error codes (status callbacks' ErrorCode) as Pinpoint's SMS record_status.
_TWILIO_ERRORS = {
    "30003": "UNREACHABLE",
    "30004": "BLOCKED",
    "30005": "INVALID",
    "30006": "CARRIER_UNREACHABLE",
    "30007": "SPAM",
    "30008": "UNKNOWN",
    "30036": "TTL_EXPIRED",
    "21211": "INVALID",
    "21614": "INVALID",
    "21408": "DESTINATION_COUNTRY_NOT_SUPPORTED",
    "21610": "OPTED_OUT",
}
_SMS_STATUS = {"_SMS.BUFFERED": "SUCCESSFUL", "_SMS.SUCCESS": "DELIVERED", "_SMS.OPTOUT": "OPTED_OUT"}
_SMS_COPIED = ("sender_request_id", "origination_phone_number", "mcc_mnc", "number_of_message_parts", "message_type")


def _strip(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def _ms(value: object) -> int | None:
    try:
        return int(float(str(value)))
    except ValueError:
        return None


def mail(event_type: str, attributes: dict[str, Any], event_ms: int | None) -> dict[str, Any]:
    """The `mail` object: the message the event is about."""
    to = attributes.get("address") or ""
    sender = attributes.get("from_address") or ""
    subject = attributes.get("subject") or ""
    sent = event_ms if event_type in _AT_SEND else _ms(attributes.get("message_send_timestamp") or "")
    headers = [{"name": n, "value": v} for n, v in (("From", sender), ("To", to), ("Subject", subject)) if v]
    return _strip(
        {
            "message_id": attributes.get("message_id"),
            "message_send_timestamp": sent,
            "from_address": sender,
            "destination": [to] if to else [],
            "headers_truncated": False,
            "headers": headers,
            "common_headers": _strip({"from": sender, "to": [to] if to else [], "subject": subject}),
        }
    )


def _part(kind: str, event_type: str, attributes: dict[str, Any]) -> dict[str, Any]:
    to = attributes.get("address") or ""
    seen = {"ip_address": attributes.get("ip_address"), "user_agent": attributes.get("user_agent")}
    if kind == "delivery":
        return _strip(
            {
                "smtp_response": attributes.get("smtp_response"),
                "reporting_mta": attributes.get("reporting_mta"),
                "processing_time_millis": _ms(attributes.get("processing_time_millis") or ""),
                "recipients": [to] if to else [],
            }
        )
    if kind in ("open", "unsubscribe"):
        return _strip(seen)
    if kind == "click":
        return _strip({**seen, "link": attributes.get("link")})
    if kind == "bounce":
        recipient = _strip(
            {
                "email_address": to,
                "action": "failed" if event_type == "_email.hardbounce" else "delayed",
                "status": attributes.get("bounce_status"),
                "diagnostic_code": attributes.get("diagnostic_code"),
            }
        )
        return _strip(
            {
                "bounce_type": "Permanent" if event_type == "_email.hardbounce" else "Transient",
                "bounce_sub_type": attributes.get("bounce_sub_type") or "General",
                "bounced_recipients": [recipient],
                "reporting_mta": attributes.get("reporting_mta"),
            }
        )
    if kind == "complaint":
        return _strip(
            {
                "complained_recipients": [{"email_address": to}] if to else [],
                "complaint_feedback_type": attributes.get("complaint_feedback_type"),
                "user_agent": attributes.get("user_agent"),
            }
        )
    if kind == "reject":
        return _strip({"reason": attributes.get("reason") or attributes.get("delivery_status")})
    return {}  # send: Pinpoint's is empty too


def email_facets(event_type: str, attributes: dict[str, Any], event_ms: int | None) -> dict[str, Any] | None:
    """`facets` of an email event's record; None for other events."""
    kind = _EMAIL_PARTS.get(event_type)
    if kind is None:
        return None
    mail_event = {"mail": mail(event_type, attributes, event_ms), kind: _part(kind, event_type, attributes)}
    return {"email_channel": {"mail_event": mail_event}}


def email_feedback(event_type: str, attributes: dict[str, Any]) -> str | None:
    """Pinpoint's `attributes.feedback`: what happened ("received", "delivered", "opened"), or
    the link a click followed."""
    if event_type == "_email.click":
        link = attributes.get("link")
        return str(link) if link else None
    return _FEEDBACK.get(event_type)


def sms_record_status(event_type: str, attributes: dict[str, Any]) -> str | None:
    """Pinpoint's record_status for an SMS event (None for events that are not SMS outcomes)."""
    if not event_type.startswith("_SMS."):
        return None
    if event_type in _SMS_STATUS:
        return _SMS_STATUS[event_type]
    code = str(attributes.get("error_code") or "")
    if code in _TWILIO_ERRORS:
        return _TWILIO_ERRORS[code]
    if attributes.get("delivery_status") == "THROTTLED":
        return "RATE_EXCEEDED"
    if attributes.get("delivery_status") == "OPT_OUT":
        return "OPTED_OUT"
    return "UNKNOWN"


def sms_attributes(event_type: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """Pinpoint's SMS attributes added to the stored ones (Pinpoint's win where both name one;
    a provider's own status word is kept as `provider_status`)."""
    status = sms_record_status(event_type, attributes)
    if status is None:
        return attributes
    destination = attributes.get("destination_phone_number") or attributes.get("address") or ""
    added = _strip(
        {
            "destination_phone_number": destination,
            "record_status": status,
            "iso_country_code": country_of(destination) if destination else None,
            **{name: attributes.get(name) for name in _SMS_COPIED},
        }
    )
    out = {**attributes, **added}
    reported = attributes.get("record_status")
    if reported and reported != status:
        out["provider_status"] = reported
    return out


def sms_metrics(event_type: str, attributes: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """The stored metrics, with `price_in_millicents_usd` when the event carries a price."""
    if not event_type.startswith("_SMS.") or "price_in_millicents_usd" in metrics:
        return metrics
    price = attributes.get("price_in_millicents_usd")
    try:
        return {**metrics, "price_in_millicents_usd": float(price)} if price not in (None, "") else metrics
    except (TypeError, ValueError):
        return metrics


def standard_parts(
    event_type: str, attributes: dict[str, Any], metrics: dict[str, Any], event_ms: int | None
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """(attributes, metrics, facets) of a standard event's record."""
    if event_type.startswith("_email."):
        feedback = email_feedback(event_type, attributes)
        shown = {**attributes, "feedback": feedback} if feedback and "feedback" not in attributes else attributes
        return shown, metrics, email_facets(event_type, attributes, event_ms)
    if event_type.startswith("_SMS."):
        return sms_attributes(event_type, attributes), sms_metrics(event_type, attributes, metrics), None
    return attributes, metrics, None
