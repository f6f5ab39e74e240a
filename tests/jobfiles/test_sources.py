"""https:// import sources may not reach the server's own networks unless the operator allows
them; redirects stay on https:// and go through the same check. A loopback HTTPS server."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobfiles.sources import SourceError, open_file
from rules.networks import parse_networks

CSV = b"Address,ChannelType\na@x.com,EMAIL\n"
LOOPBACK = parse_networks("127.0.0.0/8")


class _Source(http.server.BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        port = self.server.server_address[1]  # type: ignore[index]
        redirects = {
            "/to-http": "http://127.0.0.1:9/data.csv",
            "/to-https": "/data.csv",
            "/to-metadata": "https://169.254.169.254/latest/meta-data/",
            "/to-other-loopback": f"https://127.0.0.2:{port}/data.csv",
        }
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(CSV)))
        self.end_headers()
        self.wfile.write(CSV)


class Source:
    def __init__(self, server: http.server.ThreadingHTTPServer) -> None:
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        self.paths: list[str] = server.paths  # type: ignore[attr-defined]


@pytest.fixture
def source(tls_cert: tuple[Path, Path]) -> Iterator[Source]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Source)
    server.paths = []  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, tls_cert))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Source(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def trust(tls_cert: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_cert[0]))


def read(url: str, trust: ssl.SSLContext, allowed: Any = ()) -> bytes:
    with open_file(url, 0, None, None, trust, allowed=allowed) as stream:
        return stream.read()


def test_a_loopback_source_is_refused_without_a_request(source: Source, trust: ssl.SSLContext) -> None:
    url = f"{source.url}/data.csv"
    with pytest.raises(SourceError) as exc:
        read(url, trust)
    assert str(exc.value) == f"{url} cannot be read: refused: 127.0.0.1 is in a private network (loopback)."
    assert source.paths == []


@pytest.mark.parametrize("url", ["https://10.0.0.8/data.csv", "https://169.254.169.254/latest/meta-data/"])
def test_private_and_metadata_addresses_are_refused(url: str, trust: ssl.SSLContext) -> None:
    with pytest.raises(SourceError, match="is in a private network"):
        read(url, trust, LOOPBACK)


def test_an_allowed_network_is_read(source: Source, trust: ssl.SSLContext) -> None:
    assert read(f"{source.url}/data.csv", trust, LOOPBACK) == CSV


def test_a_redirect_to_https_is_followed(source: Source, trust: ssl.SSLContext) -> None:
    assert read(f"{source.url}/to-https", trust, LOOPBACK) == CSV
    assert source.paths == ["/to-https", "/data.csv"]


def test_a_redirect_away_from_https_is_refused(source: Source, trust: ssl.SSLContext) -> None:
    with pytest.raises(SourceError, match="HTTP 302 redirect to a URL that is not https:// refused"):
        read(f"{source.url}/to-http", trust, LOOPBACK)
    assert source.paths == ["/to-http"]


def test_a_redirect_to_a_private_address_is_refused(source: Source, trust: ssl.SSLContext) -> None:
    """Every hop is checked: an allowed source cannot bounce the worker to the metadata service."""
    with pytest.raises(SourceError, match=r"refused: 169\.254\.169\.254 is in a private network \(link-local\)"):
        read(f"{source.url}/to-metadata", trust, LOOPBACK)
    assert source.paths == ["/to-metadata"]


def test_a_redirect_leaving_the_allowed_network_is_refused(source: Source, trust: ssl.SSLContext) -> None:
    with pytest.raises(SourceError, match=r"refused: 127\.0\.0\.2 is in a private network \(loopback\)"):
        read(f"{source.url}/to-other-loopback", trust, parse_networks("127.0.0.1/32"))
    assert source.paths == ["/to-other-loopback"]


def test_a_host_name_is_judged_by_the_addresses_it_resolves_to(source: Source, trust: ssl.SSLContext) -> None:
    port = source.url.rsplit(":", 1)[1]
    with pytest.raises(SourceError, match="is in a private network \\(loopback\\)"):
        read(f"https://localhost:{port}/data.csv", trust)
    assert source.paths == []
