"""Where import files come from and export files go: `s3://`, `file://` under the file root,
and (imports only) `https://`.

Everything here is blocking I/O (boto3, urllib, the filesystem); the job activities call it
from a thread. The gateway calls `parse_location` at request time so that a bad URL is a
BadRequest naming the member, and the activities call it again before touching anything.

https:// sources may not point into the server's own networks (rules/networks.py): each
connection resolves the host, checks every address and connects to the checked one, while TLS
still verifies the name in the URL. Redirects are followed to https:// URLs only (each goes
through the same check), and proxies from the environment are not used.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import socket
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlsplit

from openpoint.errors import BadRequest
from rules.networks import Networks, Refused, pick

# Files in a folder are read when their name says they hold the requested format; the rest
# (the other format, `_SUCCESS` markers, READMEs) are skipped, as Pinpoint does.
EXTENSIONS = {"CSV": (".csv",), "JSON": (".json", ".jsonl", ".ndjson")}
MAX_FILES = 1000  # keeps one job's workflow history small; more files than this is refused
READ_BUFFER = 256 * 1024
_EXPORT_FILE = re.compile(r"^\d{5,}\.gz$")  # the files an export publishes: 00001.gz, ...


class SourceError(Exception):
    """A file or folder cannot be listed, read or written for a reason retrying will not fix
    (missing, forbidden, outside the file root). Network trouble is not a SourceError."""


@dataclass(frozen=True)
class Location:
    scheme: str  # s3 | file | https
    url: str  # as the caller wrote it
    bucket: str = ""
    key: str = ""
    path: str = ""  # file: the resolved absolute path


@dataclass(frozen=True)
class FileRef:
    url: str
    size: int | None = None


class S3Client(Protocol):
    def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def upload_file(self, filename: str, bucket: str, key: str) -> None: ...
    def delete_object(self, **kwargs: Any) -> dict[str, Any]: ...


def parse_location(url: str, field: str, root: Path | None, *, export: bool = False) -> Location:
    """The URL checked against what this server may touch; a BadRequest names `field`."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    allowed = ("s3", "file") if export else ("s3", "file", "https")
    if scheme not in allowed:
        names = " or ".join(f"{s}://" for s in allowed)
        raise BadRequest(f"Invalid value for {field}: '{url[:200]}' must be an {names} URL.")
    if scheme == "s3":
        if not parts.netloc:
            raise BadRequest(f"Invalid value for {field}: '{url[:200]}' names no bucket.")
        return Location("s3", url, bucket=parts.netloc, key=unquote(parts.path.lstrip("/")))
    if scheme == "https":
        if not parts.hostname:
            raise BadRequest(f"Invalid value for {field}: '{url[:200]}' names no host.")
        return Location("https", url)
    if root is None:
        raise BadRequest(
            f"Invalid value for {field}: file:// URLs are disabled on this server (OPENPOINT_FILE_ROOT is not set)."
        )
    if parts.netloc not in ("", "localhost"):
        raise BadRequest(f"Invalid value for {field}: file:// URLs name a path on this server, not a host.")
    return Location("file", url, path=str(inside_root(unquote(parts.path), root, field)))


def inside_root(path: str, root: Path, field: str) -> Path:
    """`path` with symlinks and `..` resolved, refused unless it lies under `root` (itself
    resolved), so neither a `..` nor a link inside the root can reach other files."""
    real_root = root.resolve()
    real = Path(os.path.realpath(path))
    if not path.startswith("/") or not real.is_relative_to(real_root):
        raise BadRequest(f"Invalid value for {field}: '{path[:200]}' is outside this server's file root.")
    return real


def wanted(name: str, fmt: str) -> bool:
    return name.lower().endswith(EXTENSIONS[fmt])


# -- listing ----------------------------------------------------------------------------------


def list_files(loc: Location, fmt: str, root: Path | None, s3: S3Client | None) -> list[FileRef]:
    """The files an import reads, in name order: one file, or every file of the requested format
    under a folder or key prefix (recursively)."""
    if loc.scheme == "https":
        return [FileRef(loc.url)]
    if loc.scheme == "file":
        assert root is not None  # parse_location refuses file:// without a root
        found = _list_folder(loc, fmt, root)
    else:
        assert s3 is not None
        found = _list_s3(loc, fmt, s3)
    if len(found) > MAX_FILES:
        raise SourceError(f"{loc.url} holds {len(found)} {fmt} files; one import job reads at most {MAX_FILES}.")
    return found


def _list_folder(loc: Location, fmt: str, root: Path) -> list[FileRef]:
    top = Path(loc.path)
    if top.is_file():
        return [FileRef(top.as_uri(), top.stat().st_size)]
    if not top.is_dir():
        raise SourceError(f"{loc.url} does not exist.")
    found: list[FileRef] = []
    for folder, dirs, files in os.walk(top, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            if not wanted(name, fmt):
                continue
            full = os.path.join(folder, name)
            try:
                real = inside_root(full, root, "S3Url")
            except BadRequest:
                raise SourceError(f"{Path(full).as_uri()} links outside this server's file root.") from None
            found.append(FileRef(Path(full).as_uri(), real.stat().st_size))
    return found


def _list_s3(loc: Location, fmt: str, s3: S3Client) -> list[FileRef]:
    from botocore.exceptions import ClientError

    def objects(prefix: str) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": loc.bucket, "Prefix": prefix}
            if token:
                args["ContinuationToken"] = token
            page = s3.list_objects_v2(**args)
            yield from page.get("Contents", [])
            token = page.get("NextContinuationToken")
            if not token:
                return

    try:
        if loc.key and not loc.key.endswith("/"):
            # A key naming one object is that file, whatever its name; otherwise it is a folder.
            exact = [o for o in objects(loc.key) if o["Key"] == loc.key]
            if exact:
                return [FileRef(loc.url, int(exact[0]["Size"]))]
        prefix = loc.key if not loc.key or loc.key.endswith("/") else loc.key + "/"
        found = [
            FileRef(f"s3://{loc.bucket}/{o['Key']}", int(o["Size"]))
            for o in objects(prefix)
            if not o["Key"].endswith("/") and wanted(o["Key"], fmt)
        ]
    except ClientError as e:
        raise SourceError(f"{loc.url} cannot be listed: {_s3_error(e)}") from None
    if not found:
        raise SourceError(f"{loc.url} holds no {fmt} files.")
    return sorted(found, key=lambda f: f.url)


def _s3_error(e: Any) -> str:
    err = e.response.get("Error", {})
    return f"{err.get('Code', 'Error')}: {err.get('Message') or 'S3 refused the request'}"


# -- reading ----------------------------------------------------------------------------------


class _Raw(io.RawIOBase):
    """A read()-only stream (botocore's StreamingBody, an HTTP response) as raw I/O, so that
    io.BufferedReader can give it an efficient readline()."""

    def __init__(self, body: Any) -> None:
        self._body = body
        # read1 returns what has arrived; read(n) would wait for all n bytes, and a slow source
        # would then commit nothing until a whole buffer had trickled in.
        self._read = getattr(body, "read1", None) or body.read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        try:
            self._body.close()
        finally:
            super().close()


def open_file(
    url: str, offset: int, root: Path | None, s3: S3Client | None, tls: ssl.SSLContext, *, allowed: Networks = ()
) -> IO[bytes]:
    """A buffered binary stream of the file at `url` from byte `offset` on; https:// sources
    may reach private networks only when they are `allowed`."""
    loc = parse_location(url, "S3Url", root)
    if loc.scheme == "file":
        # Checked again here: a link may have been swapped in since the job was listed.
        try:
            f = open(loc.path, "rb", buffering=READ_BUFFER)  # the caller closes it
        except OSError as e:
            raise SourceError(f"{url} cannot be read: {e.strerror}.") from None
        f.seek(offset)
        return f
    if loc.scheme == "s3":
        from botocore.exceptions import ClientError

        assert s3 is not None
        args: dict[str, Any] = {"Bucket": loc.bucket, "Key": loc.key}
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            body = s3.get_object(**args)["Body"]
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "InvalidRange":  # offset == size: nothing left
                return io.BytesIO(b"")
            raise SourceError(f"{url} cannot be read: {_s3_error(e)}") from None
        return io.BufferedReader(_Raw(body), READ_BUFFER)
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        response = _opener(tls, allowed).open(request, timeout=60)
    except urllib.error.HTTPError as e:
        if e.code == 416:
            return io.BytesIO(b"")
        raise SourceError(f"{url} cannot be read: HTTP {e.code} {e.reason}.") from None
    except Refused as e:
        raise SourceError(f"{url} cannot be read: {e}.") from None
    stream = io.BufferedReader(_Raw(response), READ_BUFFER)
    if offset and response.status != 206:
        # The server ignored the Range header: skip what was already imported.
        left = offset
        while left > 0:
            skipped = len(stream.read(min(left, READ_BUFFER)))
            if not skipped:
                break
            left -= skipped
    return stream


def read_first_line(
    url: str, root: Path | None, s3: S3Client | None, tls: ssl.SSLContext, *, allowed: Networks = ()
) -> bytes:
    with open_file(url, 0, root, s3, tls, allowed=allowed) as stream:
        return stream.readline()


def _opener(tls: ssl.SSLContext, allowed: Networks) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _HttpsRedirectsOnly(), _CheckedHTTPSHandler(tls, allowed)
    )


def _connect_checked(
    allowed: Networks, address: tuple[str, int], timeout: float | None, source: tuple[str, int] | None = None
) -> socket.socket:
    host, port = address
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return socket.create_connection((pick(host, [str(i[4][0]) for i in infos], allowed), port), timeout, source)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    """Connects to the address that passed the check, never to a second lookup's answer."""

    def __init__(self, tls: ssl.SSLContext, allowed: Networks) -> None:
        super().__init__(context=tls)
        self._tls = tls
        self._allowed = allowed

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)

    def _connection(self, host: str, **kwargs: Any) -> http.client.HTTPSConnection:
        conn = http.client.HTTPSConnection(host, context=self._tls, **kwargs)
        # http.client's hook for opening the socket; TLS then wraps it with the URL's host name.
        conn._create_connection = partial(_connect_checked, self._allowed)  # type: ignore[attr-defined]
        return conn


class _HttpsRedirectsOnly(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme.lower() != "https":
            raise urllib.error.HTTPError(newurl, code, "redirect to a URL that is not https:// refused", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


# -- writing (exports) ------------------------------------------------------------------------


def publish(loc: Location, name: str, local: Path, root: Path | None, s3: S3Client | None) -> str:
    """Move a finished export file into place under the prefix; returns its URL. The file
    appears whole or not at all (rename; a single S3 upload), so a retried export never leaves
    half a file behind."""
    if loc.scheme == "file":
        assert root is not None
        target = inside_root(os.path.join(loc.path, name), root, "S3UrlPrefix")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(local, target)
        return target.as_uri()
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import ClientError

    assert s3 is not None
    key = f"{loc.key.rstrip('/')}/{name}" if loc.key.rstrip("/") else name
    try:
        s3.upload_file(str(local), loc.bucket, key)
    except ClientError as e:
        raise SourceError(f"s3://{loc.bucket}/{key} cannot be written: {_s3_error(e)}") from None
    except S3UploadFailedError as e:
        raise SourceError(f"s3://{loc.bucket}/{key} cannot be written: {e}") from None
    return f"s3://{loc.bucket}/{key}"


def unpublish(loc: Location, folder: str, root: Path | None, s3: S3Client | None) -> list[str]:
    """Remove what an export wrote under `{prefix}/{folder}/`: its numbered files (`00001.gz`,
    ...) and, for file://, the staging files a killed worker left; the folder goes too when
    nothing else is in it. Returns the URLs removed. Files of other names are left alone."""
    removed: list[str] = []
    if loc.scheme == "file":
        assert root is not None
        top = inside_root(os.path.join(loc.path, folder), root, "S3UrlPrefix")
        if not top.is_dir():
            return removed
        for entry in sorted(top.iterdir()):
            if entry.is_file() and (_EXPORT_FILE.match(entry.name) or entry.name.endswith(".partial")):
                entry.unlink(missing_ok=True)
                removed.append(entry.as_uri())
        with contextlib.suppress(OSError):  # not empty: someone else's files stay
            top.rmdir()
        return removed
    from botocore.exceptions import ClientError

    assert s3 is not None
    prefix = f"{loc.key.rstrip('/')}/{folder}/" if loc.key.rstrip("/") else f"{folder}/"
    try:
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": loc.bucket, "Prefix": prefix}
            if token:
                args["ContinuationToken"] = token
            page = s3.list_objects_v2(**args)
            for obj in page.get("Contents", []):
                if _EXPORT_FILE.match(obj["Key"][len(prefix) :]):
                    s3.delete_object(Bucket=loc.bucket, Key=obj["Key"])
                    removed.append(f"s3://{loc.bucket}/{obj['Key']}")
            token = page.get("NextContinuationToken")
            if not token:
                return removed
    except ClientError as e:
        raise SourceError(f"s3://{loc.bucket}/{prefix} cannot be cleaned up: {_s3_error(e)}") from None


def staging_dir(loc: Location, root: Path | None, folder: str) -> Path:
    """Where an export file is written before it is published: in its target folder for
    file:// (so publishing is a rename on one filesystem), the temporary folder for S3."""
    if loc.scheme == "file":
        assert root is not None
        target = inside_root(os.path.join(loc.path, folder), root, "S3UrlPrefix")
        target.mkdir(parents=True, exist_ok=True)
        return target
    return Path(tempfile.gettempdir())
