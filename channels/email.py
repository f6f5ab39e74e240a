"""The EMAIL channel over SMTP (aiosmtplib).

The batch content is the channel message the gateway chose (SimpleEmail parts, a plain body,
or raw MIME); variables are rendered per recipient. The idempotency key becomes the
Message-ID, so a relay that de-duplicates by Message-ID can drop a repeat.

Engagement: HTML parts get an open pixel and their links go through signed click redirects;
every message gets RFC 8058 one-click List-Unsubscribe headers. All three point at the
gateway's public URL and carry a token naming the delivery, so the events they cause are tied
to the message. Raw MIME is sent as written (only Message-ID is set).
"""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP as SMTP_POLICY
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib

from channels.deliverer import Outcome, Send, TransientDeliveryError
from channels.email_mime import Composed, NeedsSmtpUtf8, check_header, compose
from rules.engagement import sign
from store.channels import ChannelConfig
from templating.content import context_of
from templating.render import render
from workflows.shared import PERMANENT_FAILURE, SUCCESSFUL, DeliveryBatch, Recipient

# Anchors whose href is an absolute web link; `ses:no-track` (SES's opt-out marker, which
# Pinpoint templates carry) or `data-no-track` leaves a link alone.
_LINK = re.compile(r"""<a\b[^>]*?\bhref\s*=\s*(["'])(https?://[^"']+)\1[^>]*>""", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@dataclass(frozen=True)
class Tracking:
    """Where tracking links point and the key that signs their tokens."""

    base_url: str
    key: bytes

    def token(self, app_id: str, r: Recipient, **extra: str) -> str:
        return sign(self.key, {"a": app_id, "k": r.key, "e": r.endpoint_id, "r": r.address, **extra})

    def track_html(self, html: str, app_id: str, r: Recipient) -> str:
        def click(m: re.Match[str]) -> str:
            tag, url = m.group(0), html_lib.unescape(m.group(2))
            if "no-track" in tag:
                return tag
            redirect = f"{self.base_url}/engagement/email/click/{self.token(app_id, r, u=url)}"
            return tag.replace(m.group(2), redirect, 1)

        html = _LINK.sub(click, html)
        pixel = (
            f'<img src="{self.base_url}/engagement/email/open/{self.token(app_id, r)}" '
            'width="1" height="1" alt="" style="display:none">'
        )
        found = list(_BODY_END.finditer(html))
        if found:
            at = found[-1].start()
            return html[:at] + pixel + html[at:]
        return html + pixel

    def unsubscribe_url(self, app_id: str, r: Recipient) -> str:
        return f"{self.base_url}/engagement/email/unsubscribe/{self.token(app_id, r)}"


def message_id_for(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:40] + "@openpoint"


def build_message(
    content: dict[str, Any], r: Recipient, tracking: Tracking | None = None, app_id: str = ""
) -> Composed | EmailMessage:
    """The MIME message for one recipient. `content` keys: from, reply_to, subject, text, html,
    headers, raw (base64 MIME), substitutions (the message-level maps, lowest precedence first),
    defaults (the template's DefaultSubstitutions), envelope_from.

    Usually the finished bytes (Composed, written by channels.email_mime: the stdlib's
    EmailPolicy costs as much CPU as the rest of a send). An EmailMessage, for aiosmtplib to
    flatten with the relay's 8BITMIME/SMTPUTF8 choices, for raw MIME and for the rare mailbox
    that is not ASCII (only SMTPUTF8 carries those)."""
    message_id = f"<{message_id_for(r.key)}>"
    raw = r.overrides.get("RawContent")
    raw_bytes = raw.encode() if raw is not None else (base64.b64decode(content["raw"]) if content.get("raw") else None)
    if raw_bytes is not None:
        msg = BytesParser(_class=EmailMessage, policy=SMTP_POLICY).parsebytes(raw_bytes)
        assert isinstance(msg, EmailMessage)
        if msg["From"] is None and content.get("from"):
            msg["From"] = content["from"]
        if msg["To"] is None:
            msg["To"] = r.address
        del msg["Message-ID"]
        msg["Message-ID"] = message_id
        return msg
    ctx = context_of(content, r)
    subject = r.overrides.get("TitleOverride") or content.get("subject")
    headers = [("From", content["from"]), ("To", r.address), ("Subject", render(subject, ctx) or "")]
    text = r.overrides.get("BodyOverride") or content.get("text")
    html = None if "BodyOverride" in r.overrides else content.get("html")
    html_text = render(html, ctx, html=True) if html is not None else None
    plain = render(text, ctx) or ("" if html_text is None else _strip_html(html_text))
    if html_text is not None and tracking is not None:
        html_text = tracking.track_html(html_text, app_id, r)
    if content.get("reply_to"):
        headers.append(("Reply-To", ", ".join(content["reply_to"])))
    headers += [(h["Name"], render(h["Value"], ctx) or "") for h in content.get("headers", [])]
    if tracking is not None and all(name.lower() != "list-unsubscribe" for name, _ in headers):
        headers.append(("List-Unsubscribe", f"<{tracking.unsubscribe_url(app_id, r)}>"))
        headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    envelope_from = content.get("envelope_from") or ""
    if r.address.isascii() and envelope_from.isascii():
        try:
            return compose(headers, plain, html_text, message_id)
        except NeedsSmtpUtf8:
            pass
    return _stdlib_message(headers, plain, html_text, message_id)


def _stdlib_message(headers: list[tuple[str, str]], plain: str, html: str | None, message_id: str) -> EmailMessage:
    """The same message as compose() writes, built with EmailPolicy for aiosmtplib to flatten."""
    for name, value in headers:
        check_header(name, value)  # EmailPolicy checks values, not names
    msg = EmailMessage()
    for name, value in headers[:3]:  # From, To, Subject, then the content (as before compose)
        msg[name] = value
    msg.set_content(plain)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, value in headers[3:]:
        msg[name] = value
    del msg["Message-ID"]
    msg["Message-ID"] = message_id
    return msg


def _strip_html(html: str) -> str:
    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


def _classify(code: int, message: str) -> Outcome:
    if 400 <= code < 500:
        raise TransientDeliveryError(f"SMTP {code} {message}", code=503 if code != 452 else 429)
    return Outcome(PERMANENT_FAILURE, 400, f"SMTP {code} {message}")


def smtp_options(smtp_url: str, timeout: float) -> dict[str, Any]:
    """aiosmtplib connection options from `smtp://`, `smtps://` or `smtp+starttls://` URLs."""
    parts = urlsplit(smtp_url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls"):
        raise ValueError(f"an SMTP URL must be smtp://, smtps:// or smtp+starttls://, got {parts.scheme}://")
    options: dict[str, Any] = {
        "hostname": parts.hostname or "127.0.0.1",
        "port": parts.port or (465 if parts.scheme == "smtps" else 25),
        "use_tls": parts.scheme == "smtps",
        "start_tls": parts.scheme == "smtp+starttls",
        "timeout": timeout,
    }
    if parts.username:
        options["username"] = unquote(parts.username)
        options["password"] = unquote(parts.password or "")
    return options


class EmailProvider:
    channel = "EMAIL"

    def __init__(self, smtp_url: str, *, timeout: float = 30.0, tracking: Tracking | None = None) -> None:
        self._tracking = tracking
        self._timeout = timeout
        # The name EHLO gives, found once: left to aiosmtplib, every connection looks it up
        # again in a thread (socket.getfqdn), which a stream of small batches pays for each time.
        self._hostname = socket.getfqdn()
        self._options = {**smtp_options(smtp_url, timeout), "local_hostname": self._hostname}

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        # A project may name its own relay (`openpoint channels credentials ... SmtpUrl=...`).
        own = channel.secrets.get("SmtpUrl") if channel is not None else None
        options = {**smtp_options(own, self._timeout), "local_hostname": self._hostname} if own else self._options
        smtp = aiosmtplib.SMTP(**options)

        async def ensure_connected() -> None:
            if smtp.is_connected:
                return
            try:
                await smtp.connect()
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
                raise TransientDeliveryError(f"SMTP relay unreachable: {e}") from None

        async def send(r: Recipient) -> Outcome:
            await ensure_connected()
            msg = build_message(batch.content, r, self._tracking, batch.app_id)
            sender = batch.content.get("envelope_from") or None
            try:
                if isinstance(msg, Composed):
                    if not (sender or msg.sender):
                        raise ValueError("No From header provided in message")  # as send_message says
                    # Bytes as they are: send_message would flatten (and copy) an EmailMessage.
                    await smtp.sendmail(sender or msg.sender or "", [r.address], msg.data)
                else:
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
