"""`openpoint worker` as a child process, configured from the environment as production runs
it, for the tests that kill a worker mid-work (SIGKILL) and start another."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.stack import Stack

ROOT = Path(__file__).resolve().parents[1]


class WorkerProcess:
    def __init__(self, stack: Stack, temporal_address: str, task_queue: str, log: Path, **env: str) -> None:
        """`env`: further OPENPOINT_* settings (the SMTP relay, SSL_CERT_FILE for a webhook
        receiver's self-signed certificate, which the webhook provider's default context reads)."""
        self.env = {
            **os.environ,
            "DATABASE_URL": stack.settings.database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "OPENPOINT_TASK_QUEUE": task_queue,
            "OPENPOINT_MASTER_KEY": stack.settings.master_key,
            "OPENPOINT_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
            "OPENPOINT_DB_POOL_SIZE": "5",
            # A worker on a private queue: the stack's own worker dispatches the outbox, which
            # would otherwise also be handed to this one's queue.
            "OPENPOINT_DISPATCH_OUTBOX": "false",
            **env,
        }
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "launch.cli", "worker"], env=self.env, cwd=ROOT, stdout=out, stderr=out
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
