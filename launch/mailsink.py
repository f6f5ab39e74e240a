"""A local SMTP server for trying OpenPoint out: `make run` starts it when no relay is
configured, and every message it accepts is saved as an .eml file to read."""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

# aiosmtpd logs every connection at INFO (its own start-up probe included), which would bury
# `make run`'s output; warnings and errors still show.
logging.getLogger("mail.log").setLevel(logging.WARNING)


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._seq = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._seq):05d}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class MailSink:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self._controller = Controller(_SaveToFolder(folder), hostname="127.0.0.1", port=port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
