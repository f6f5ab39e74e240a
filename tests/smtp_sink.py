"""A real SMTP server (aiosmtpd) on loopback that records what it receives and can be told to
refuse recipients, permanently (5xx) or for a number of tries (4xx)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller

from launch.processes import free_port


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    message: Message

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
        return part.get_content() if part is not None else ""


@dataclass
class SmtpSink:
    messages: list[Received] = field(default_factory=list)
    # address -> (reply, remaining times); remaining None = always
    rules: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    rcpt_attempts: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        with self.lock:
            self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
            rule = self.rules.get(address)
            if rule is not None:
                reply, remaining = rule
                if remaining is None:
                    return reply
                if remaining > 0:
                    self.rules[address] = (reply, remaining - 1)
                    return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.recipients]


class SmtpServer:
    def __init__(self) -> None:
        self.sink = SmtpSink()
        self.port = free_port()
        self.controller = Controller(self.sink, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
