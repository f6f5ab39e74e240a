"""A throwaway certificate authority for the sinks that must speak TLS (APNs is HTTPS/2 only,
custom-channel webhooks are https:// only), and a trust bundle that adds it to the usual ones.

The dev stack hands the bundle to its children as SSL_CERT_FILE: `ssl.create_default_context()`,
which the worker's APNs and webhook clients use when no trust is given, loads that file, so
they trust the sinks without any code path of their own, and still trust every public CA
(certifi's bundle and the system's are part of it).
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_DAYS = 365
_RENEW_BEFORE = timedelta(days=7)


@dataclass(frozen=True)
class DevTls:
    ca: Path  # the CA certificate (PEM): what a client outside the stack can trust, e.g. curl --cacert
    cert: Path  # the sinks' certificate for 127.0.0.1 and localhost
    key: Path
    trust: Path  # public CAs + the dev CA: SSL_CERT_FILE for the children

    @property
    def server(self) -> tuple[Path, Path]:
        return self.cert, self.key


def dev_tls(folder: Path) -> DevTls:
    """The CA and server certificate in `folder`, made when missing or about to expire (kept
    across runs, so that a client told to trust the CA keeps trusting it)."""
    folder.mkdir(parents=True, exist_ok=True)
    tls = DevTls(folder / "ca.pem", folder / "server.pem", folder / "server-key.pem", folder / "trust.pem")
    if not all(p.exists() for p in (tls.ca, tls.cert, tls.key)) or _expiring(tls.cert):
        _issue(tls, folder / "ca-key.pem")
    tls.trust.write_text(_public_roots(tls.trust) + tls.ca.read_text())
    return tls


def _expiring(cert: Path) -> bool:
    try:
        loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    except ValueError:
        return True
    return loaded.not_valid_after_utc - datetime.now(UTC) < _RENEW_BEFORE


def _issue(tls: DevTls, ca_key_path: Path) -> None:
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=5), now + timedelta(days=_VALID_DAYS)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OpenPoint dev CA (make run)")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(ca_key_path, ca_key)
    _write_key(tls.key, key)
    tls.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    tls.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.touch(mode=0o600)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _public_roots(ours: Path) -> str:
    """The CAs a default context trusts now: an SSL_CERT_FILE the user set, else the system's
    file, plus certifi's bundle (where the system has none, slim images). `ours` is left out,
    should SSL_CERT_FILE already name it, so that the bundle does not grow on every run."""
    files = [os.environ.get("SSL_CERT_FILE") or ssl.get_default_verify_paths().openssl_cafile]
    try:
        import certifi

        files.append(certifi.where())
    except ImportError:
        pass
    parts: list[str] = []
    for name in dict.fromkeys(f for f in files if f):
        path = Path(name)
        if path.is_file() and path.resolve() != ours.resolve():
            text = path.read_text(errors="replace")
            parts.append(text if text.endswith("\n") else text + "\n")
    return "".join(parts)
