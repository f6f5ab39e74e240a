"""Direct sends: choosing each channel's content from a DirectMessageConfiguration, and the
per-recipient checks Pinpoint applies before anything is sent."""

from __future__ import annotations

import base64
from typing import Any

from openpoint.errors import BadRequest

MAX_RECIPIENTS = 100

# Channel types whose message is built from the email members of the configuration.
EMAIL = "EMAIL"


def email_content(config: dict[str, Any], field: str) -> dict[str, Any] | None:
    """The email to send, from EmailMessage (SimpleEmail, RawEmail or Body) or else
    DefaultMessage.Body; None when the request carries no email content."""
    email = config.get("EmailMessage", {})
    default = config.get("DefaultMessage", {})
    layers = [default.get("Substitutions", {}), email.get("Substitutions", {})]
    content: dict[str, Any] = {"substitutions": layers}
    if email.get("FromAddress"):
        content["from"] = email["FromAddress"]
    if email.get("ReplyToAddresses"):
        content["reply_to"] = email["ReplyToAddresses"]
    if email.get("FeedbackForwardingAddress"):
        content["envelope_from"] = email["FeedbackForwardingAddress"]
    if "RawEmail" in email and email["RawEmail"].get("Data"):
        content["raw"] = base64.b64encode(email["RawEmail"]["Data"]).decode()
        return content
    simple = email.get("SimpleEmail")
    if simple:
        content["subject"] = simple.get("Subject", {}).get("Data")
        content["text"] = simple.get("TextPart", {}).get("Data")
        content["html"] = simple.get("HtmlPart", {}).get("Data")
        content["headers"] = simple.get("Headers", [])
        if content["text"] is None and content["html"] is None:
            raise BadRequest(f"Invalid value for {field}.EmailMessage.SimpleEmail: it needs a TextPart or an HtmlPart.")
        for i, h in enumerate(content["headers"]):
            if not h.get("Name") or len(h["Name"]) > 126 or len(h.get("Value", "")) > 870:
                raise BadRequest(
                    f"Invalid value for {field}.EmailMessage.SimpleEmail.Headers[{i}]: "
                    "a header has a Name of 1 to 126 characters and a Value of at most 870."
                )
        return content
    body = email.get("Body") or default.get("Body")
    if body is None:
        return None
    content["text"] = body
    return content


def template_fields(content: dict[str, Any], field: str) -> list[tuple[str, str]]:
    """The (text, field name) pairs of `content` that are rendered, for syntax checks."""
    names = {"subject": "Subject", "text": "TextPart", "html": "HtmlPart"}
    return [(content[k], f"{field}.EmailMessage.{v}") for k, v in names.items() if content.get(k)]


def check_recipient_count(addresses: int, endpoints: int, field: str) -> None:
    total = addresses + endpoints
    if total == 0:
        raise BadRequest(f"Invalid value for {field}: name at least one address or endpoint.")
    if total > MAX_RECIPIENTS:
        raise BadRequest(f"Invalid value for {field}: at most {MAX_RECIPIENTS} addresses and endpoints per request.")
