"""The CUSTOM channel: one signed HTTPS POST per recipient to the campaign's webhook.

`batch.content` is {"url": the DeliveryUri, "data": the CustomMessage's Data}. The body has the
shape Pinpoint gives custom-channel payloads, with one endpoint per request so that each
recipient's Data can be rendered for it and each delivery is acknowledged on its own:

    {"Message": {}, "Data": "<rendered Data>", "ApplicationId": "...",
     "CampaignId": "...", "TreatmentId": "...", "ActivityId": "...", "JourneyId": "...",
     "ScheduledTime": "2024-05-01T12:00:00.000Z",
     "Endpoints": {"<endpoint id, or the address>": {"ChannelType": ..., "Address": ..., ...}}}

(the campaign and journey ids only when the batch carries them). Headers: `Idempotency-Key`
(the delivery's key: the same on every retry, for the receiver to drop repeats) and
`X-OpenPoint-Signature` (rules/webhooks.py documents the scheme).

The webhook's host is resolved once per batch and refused when any address is non-public
(rules/networks.py) unless the operator allowed its network. Requests then go to the checked
address, with the original name kept in the Host header and as the TLS server name (SNI and
certificate check), so a second lookup cannot lead elsewhere (DNS rebinding). Redirects are not
followed and proxies from the environment are not used, for the same reason.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
import orjson

from channels.deliverer import Outcome, Send, TransientDeliveryError
from openpoint.settings import Settings
from openpoint.ttl import TTLCache
from openpoint.vault import Vault
from rules.networks import Refused, check, parse_networks, target
from rules.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, sign_webhook, signing_secret
from store.channels import ChannelConfig
from templating.content import personalise
from workflows.shared import PERMANENT_FAILURE, SUCCESSFUL, DeliveryBatch, Recipient

_RETRYABLE = frozenset({408, 425, 429})
_SNIPPET = 200  # characters of a refusal's body kept in the status message
_READ_LIMIT = 64 * 1024  # a receiver's answer is read this far, no further
PIN_SECONDS = 30.0  # how long a webhook URL's checked address is reused


@dataclass(frozen=True)
class _Pinned:
    """The webhook's URL with its host replaced by the checked address."""

    url: httpx.URL
    host_header: str
    server_name: str


def custom_event(batch: DeliveryBatch, recipients: list[Recipient], data: str, scheduled_time: str) -> dict[str, Any]:
    """Pinpoint's custom-channel event for `recipients` (a webhook gets one, a Lambda function up
    to 50); a DELIVERY-mode campaign hook gets the treatment's MessageConfiguration instead of
    Data. The campaign and journey ids only when the batch carries them."""
    event: dict[str, Any] = {"Message": {}}
    if batch.content.get("message_configuration") is not None:
        event["MessageConfiguration"] = batch.content["message_configuration"]
    else:
        event["Data"] = data
    event["ApplicationId"] = batch.app_id
    for member, keys in _IDS:
        value = next((batch.attributes[k] for k in keys if batch.attributes.get(k)), None)
        if value is not None:
            event[member] = value
    event["ScheduledTime"] = scheduled_time
    event["Endpoints"] = {r.endpoint_id or r.address: event_endpoint(batch.channel, r) for r in recipients}
    return event


def event_endpoint(channel: str, r: Recipient) -> dict[str, Any]:
    """An endpoint as Pinpoint put it in function events: its members, those it lacks left out
    (a function doing `endpoint.get("Location", {})` must not meet null)."""
    endpoint = {"ChannelType": channel, "Address": r.address, **r.endpoint}
    return {k: v for k, v in endpoint.items() if v is not None}


# Event member <- the batch attributes that may carry it (campaign or journey sends).
_IDS = (
    ("CampaignId", ("campaign_id",)),
    ("TreatmentId", ("treatment_id",)),
    ("JourneyId", ("journey_id",)),
    ("JourneyActivityId", ("journey_activity_id",)),
    ("ActivityId", ("campaign_activity_id", "journey_activity_id")),
)


def render_data(content: dict[str, Any], r: Recipient) -> str:
    # The custom message's Data is its body: rendered like every channel's body, and replaced
    # by the recipient's BodyOverride.
    rendered = personalise({**content, "body": content.get("data") or ""}, r)
    return str(rendered["body"] or "")


class WebhookProvider:
    """Sends CUSTOM messages; `tls` is the trust for receivers' certificates (None: the system's)."""

    channel = "CUSTOM"
    # Receivers are asked to drop a repeated Idempotency-Key (documented in the README).
    idempotent = True

    def __init__(self, settings: Settings, vault: Vault, *, tls: ssl.SSLContext | None = None) -> None:
        self._secret = signing_secret(settings, vault)
        self._allowed = parse_networks(settings.webhook_allowed_networks)
        self._timeout = settings.webhook_timeout_seconds
        self._tls = tls or ssl.create_default_context()
        # One client for the worker's life: its pool keeps connections (and TLS sessions) to
        # receivers open across batches, and each URL's checked address is reused for a while.
        # aiohttp for messages: a third of httpx's CPU per request, which is most of a send's cost.
        self._client: aiohttp.ClientSession | None = None
        self._pins: TTLCache[str, _Pinned] = TTLCache(PIN_SECONDS)

    def _shared_client(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._tls, limit=64),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                trust_env=False,
                auto_decompress=False,
            )
        return self._client

    async def _pinned(self, url: Any) -> _Pinned:
        if not isinstance(url, str):
            return await self._pin(url)  # refused: no URL to keep
        return await self._pins.get_or_load(url, lambda: self._pin(url))

    @asynccontextmanager
    async def session(self, batch: DeliveryBatch, channel: ChannelConfig | None) -> AsyncIterator[Send]:
        try:
            pinned = await self._pinned(batch.content.get("url"))
        except Refused as e:
            yield _refusing(Outcome(PERMANENT_FAILURE, 400, str(e)))
            return
        scheduled_time = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        client = self._shared_client()

        async def send(r: Recipient) -> Outcome:
            body = orjson.dumps(custom_event(batch, [r], render_data(batch.content, r), scheduled_time))
            headers = {
                "Host": pinned.host_header,
                "Content-Type": "application/json",
                "User-Agent": "OpenPoint",
                IDEMPOTENCY_HEADER: r.key,
                SIGNATURE_HEADER: sign_webhook(self._secret, int(time.time()), body),
            }
            return await _post(client, pinned, body, headers, r.key)

        yield send

    async def call_hook(self, url: str, body: dict[str, Any]) -> Any:
        """POST `body` to a campaign hook (CampaignHook.WebUrl) and return its JSON answer, with
        the same signature, network guard and pinning as messages. Raises Refused when the URL
        may not be called and TransientDeliveryError when the hook fails or answers no JSON."""
        pinned = await self._pin(url)
        data = orjson.dumps(body)
        headers = {
            "Host": pinned.host_header,
            "Content-Type": "application/json",
            "User-Agent": "OpenPoint",
            SIGNATURE_HEADER: sign_webhook(self._secret, int(time.time()), data),
        }
        async with httpx.AsyncClient(
            verify=self._tls, timeout=self._timeout, follow_redirects=False, trust_env=False
        ) as client:
            try:
                response = await client.post(
                    pinned.url, content=data, headers=headers, extensions={"sni_hostname": pinned.server_name}
                )
            except httpx.HTTPError as e:
                raise TransientDeliveryError(f"The campaign hook cannot be reached: {e}.") from None
        if not 200 <= response.status_code < 300:
            raise TransientDeliveryError(f"The campaign hook answered HTTP {response.status_code}.")
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise TransientDeliveryError("The campaign hook answered no JSON.") from None

    async def _pin(self, url: Any) -> _Pinned:
        """The checked address to send to; Refused when the URL may not be called, and a
        TransientDeliveryError when its host cannot be resolved now."""
        if not isinstance(url, str) or not url:
            raise Refused("The custom message names no DeliveryUri.")
        if not url.lower().startswith("https://"):
            raise Refused(f"A webhook's URL must be https:// ('{url[:200]}').")
        host, port = target(url)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            raise TransientDeliveryError(f"The webhook host {host} cannot be resolved: {e.strerror}.") from None
        address = check(url, [str(info[4][0]) for info in infos], self._allowed)
        parsed = httpx.URL(url)
        return _Pinned(parsed.copy_with(host=address), parsed.netloc.decode("ascii"), host)


def _refusing(outcome: Outcome) -> Send:
    async def refuse(r: Recipient) -> Outcome:
        return outcome

    return refuse


async def _post(
    client: aiohttp.ClientSession, pinned: _Pinned, body: bytes, headers: dict[str, str], key: str
) -> Outcome:
    try:
        async with client.post(
            str(pinned.url), data=body, headers=headers, server_hostname=pinned.server_name, allow_redirects=False
        ) as response:
            status = response.status
            answer = await _read_some(response)
            message_id = response.headers.get("X-Message-Id")
    except TimeoutError:
        raise TransientDeliveryError("The webhook did not answer in time.", 504) from None
    except aiohttp.ClientError as e:
        raise TransientDeliveryError(f"The webhook cannot be reached: {str(e) or type(e).__name__}.", 503) from None
    if 200 <= status < 300:
        return Outcome(SUCCESSFUL, status, "Accepted by the webhook.", message_id or key)
    said = f"The webhook answered HTTP {status}"
    if 300 <= status < 400:
        said += " (redirects are not followed)"
    said += f": {answer}" if answer else "."
    if status in _RETRYABLE or status >= 500:
        raise TransientDeliveryError(said, status)
    return Outcome(PERMANENT_FAILURE, status, said)


async def _read_some(response: aiohttp.ClientResponse) -> str:
    """The start of the answer, for the status message; a large answer is not read to its end."""
    read = await response.content.read(_READ_LIMIT)
    answer = read.decode("utf-8", "replace").strip()
    return answer if len(answer) <= _SNIPPET else answer[:_SNIPPET] + "…"
