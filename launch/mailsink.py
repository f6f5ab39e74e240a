"""A local SMTP server for trying OpenPoint out: `make run` starts it when no relay is
configured, and every message it accepts is saved as an .eml file to read."""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from launch.processes import port_is_free
from launch.server import HOST, SinkError

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
        self._controller = Controller(_SaveToFolder(folder), hostname=HOST, port=port)
        self._started = False

    @property
    def url(self) -> str:
        return f"smtp://{HOST}:{self.port}"

    def start(self) -> None:
        # Checked first: aiosmtpd reports a taken port as a bare OSError from its thread.
        if not port_is_free(self.port, HOST):
            raise SinkError(f"the SMTP sink cannot listen on {HOST}:{self.port}: the port is in use")
        self._controller.start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self._controller.stop()
            self._started = False
