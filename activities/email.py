"""The EMAIL channel over SMTP (aiosmtplib).

The batch content is the channel message the gateway chose (SimpleEmail parts, a plain body,
or raw MIME); variables are rendered per recipient. The idempotency key becomes the
Message-ID, so a relay that de-duplicates by Message-ID can drop a repeat.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP as SMTP_POLICY
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib

from activities.deliveries import ChannelConfig, Outcome, Send, TransientDeliveryError
from activities.render import render, variables
from workflows.shared import PERMANENT_FAILURE, SUCCESSFUL, DeliveryBatch, Recipient


def message_id_for(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40] + "@openpoint"


def build_message(content: dict[str, Any], r: Recipient) -> EmailMessage:
    """The MIME message for one recipient. `content` keys: from, reply_to, subject, text, html,
    headers, raw (base64 MIME), substitutions (the message-level maps, lowest precedence first)."""
    ctx = variables(r.endpoint, *content.get("substitutions", []), r.substitutions)
    raw = r.overrides.get("RawContent")
    raw_bytes = raw.encode() if raw is not None else (base64.b64decode(content["raw"]) if content.get("raw") else None)
    if raw_bytes is not None:
        msg = BytesParser(_class=EmailMessage, policy=SMTP_POLICY).parsebytes(raw_bytes)
        assert isinstance(msg, EmailMessage)
        if msg["From"] is None and content.get("from"):
            msg["From"] = content["from"]
        if msg["To"] is None:
            msg["To"] = r.address
    else:
        msg = EmailMessage()
        msg["From"] = content["from"]
        msg["To"] = r.address
        subject = r.overrides.get("TitleOverride") or content.get("subject")
        msg["Subject"] = render(subject, ctx) or ""
        text = r.overrides.get("BodyOverride") or content.get("text")
        html = None if "BodyOverride" in r.overrides else content.get("html")
        msg.set_content(render(text, ctx) or ("" if html is None else _strip_html(html)))
        if html is not None:
            msg.add_alternative(render(html, ctx, html=True) or "", subtype="html")
        if content.get("reply_to"):
            msg["Reply-To"] = ", ".join(content["reply_to"])
        for header in content.get("headers", []):
            msg[header["Name"]] = render(header["Value"], ctx) or ""
    if "Message-ID" in msg:
        del msg["Message-ID"]
    msg["Message-ID"] = f"<{message_id_for(r.key)}>"
    return msg


def _strip_html(html: str) -> str:
    import re

    return re.sub(r"<[^>]+>", "", html)


def _classify(code: int, message: str) -> Outcome:
    if 400 <= code < 500:
        raise TransientDeliveryError(f"SMTP {code} {message}", code=503 if code != 452 else 429)
    return Outcome(PERMANENT_FAILURE, 400, f"SMTP {code} {message}")


class EmailProvider:
    channel = "EMAIL"

    def __init__(self, smtp_url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(smtp_url)
        if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
            raise ValueError(f"OPENPOINT_SMTP_URL must be smtp://, smtps:// or smtp+starttls://, got {smtp_url}")
        self._options: dict[str, Any] = {
            "hostname": parts.hostname or "127.0.0.1",
            "port": parts.port or (465 if parts.scheme == "smtps" else 25),
            "use_tls": parts.scheme == "smtps",
            "start_tls": True if parts.scheme == "smtp+starttls" else False,
            "timeout": timeout,
        }
        if parts.username:
            self._options["username"] = unquote(parts.username)
            self._options["password"] = unquote(parts.password or "")

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        smtp = aiosmtplib.SMTP(**self._options)

        async def ensure_connected() -> None:
            if smtp.is_connected:
                return
            try:
                await smtp.connect()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
                raise TransientDeliveryError(f"SMTP relay unreachable: {e}") from None

        async def send(r: Recipient) -> Outcome:
            await ensure_connected()
            msg = build_message(batch.content, r)
            sender = batch.content.get("envelope_from") or None
            try:
                await smtp.send_message(msg, sender=sender, recipients=[r.address])
            except aiosmtplib.SMTPRecipientsRefused as e:
                refused = e.recipients[0]
                return _classify(refused.code, refused.message)
            except aiosmtplib.SMTPResponseException as e:
                if e.code >= 500 and not isinstance(e, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError):
                    # A 5xx outside the message itself (e.g. the session was reset): reconnect.
                    await _quietly_close(smtp)
                return _classify(e.code, e.message)
            except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as e:
                await _quietly_close(smtp)
                raise TransientDeliveryError(f"SMTP connection lost: {e}") from None
            return Outcome(SUCCESSFUL, 200, "Message accepted by the SMTP relay", message_id_for(r.key))

        await ensure_connected()
        try:
            yield send
        finally:
            await _quietly_close(smtp)


async def _quietly_close(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        try:
            await smtp.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            smtp.close()
