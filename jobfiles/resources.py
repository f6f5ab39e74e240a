"""What import and export jobs share: the engine, the file root, one S3 client, the TLS trust for
https:// sources, and the one way a job fails for good (JobFailed, which the job activities turn
into a non-retryable ApplicationError).
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from jobfiles.sources import Location, S3Client, parse_location
from openpoint.errors import BadRequest
from openpoint.settings import Settings
from rules.networks import parse_networks
from store import jobs as jobs_store


class JobFailed(Exception):
    """The job cannot succeed whatever is retried: its message is the job's failure."""


async def load_job(conn: AsyncConnection, app_id: str, job_id: str) -> dict[str, Any]:
    """The job row; a job whose project was deleted meanwhile fails for good."""
    try:
        return await jobs_store.load(conn, app_id, job_id)
    except jobs_store.JobGone as e:
        raise JobFailed(str(e)) from None


class JobResources:
    """What both kinds of job activities share: the engine, the file root, one S3 client and
    the TLS trust for https:// sources."""

    def __init__(self, engine: AsyncEngine, settings: Settings, *, tls: ssl.SSLContext | None = None) -> None:
        self.engine = engine
        self.root: Path | None = settings.file_root
        self.s3_endpoint_url = settings.s3_endpoint_url
        self.tls = tls or ssl.create_default_context()
        self.allowed_networks = parse_networks(settings.webhook_allowed_networks)  # for https:// sources
        self._s3: Any = None
        self._s3_lock = threading.Lock()

    def s3(self) -> S3Client:
        """Built on first use (boto3 clients are slow to build but safe to share across threads).
        Credentials come from the usual AWS environment / config chain."""
        with self._s3_lock:
            if self._s3 is None:
                import boto3
                from botocore.config import Config

                path_style = Config(s3={"addressing_style": "path"}) if self.s3_endpoint_url else None
                self._s3 = boto3.client("s3", endpoint_url=self.s3_endpoint_url or None, config=path_style)
            return self._s3  # type: ignore[no-any-return]

    def location(self, url: str, field: str, *, export: bool = False) -> Location:
        try:
            return parse_location(url, field, self.root, export=export)
        except BadRequest as e:
            raise JobFailed(e.message) from None

    def s3_for(self, loc: Location) -> S3Client | None:
        return self.s3() if loc.scheme == "s3" else None
