"""mTLS test kit: certificates made here with ``cryptography`` (a CA, two client certificates
it signed, a self-signed client certificate, a server certificate for 127.0.0.1), and the
RFC 8705 thumbprint computed independently of the library (``cryptography`` + ``hashlib``)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as objects and as PEM files on disk."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    @property
    def x5t(self) -> str:
        """``x5t#S256``: unpadded base64url SHA-256 of the DER bytes (RFC 8705 §3.1)."""
        digest = hashlib.sha256(self.der).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    @property
    def pair(self) -> tuple[str, str]:
        """``(certfile, keyfile)`` for httpx's ``cert=``."""
        return str(self.cert_path), str(self.key_path)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write(
    folder: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Issued:
    cert_path, key_path = folder / f"{stem}.pem", folder / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Issued(cert, key, cert_path, key_path)


def _issue(
    folder: Path,
    stem: str,
    subject: str,
    issuer: Issued | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.cert.subject if issuer is not None else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    elif not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    signer = issuer.key if issuer is not None else key
    cert = builder.sign(signer, hashes.SHA256())
    return _write(folder, stem, cert, key)


@dataclass(frozen=True)
class Pki:
    """Everything a test needs: ``ca`` signed ``server``, ``alice`` and ``bob``; ``mallory`` is
    self-signed."""

    ca: Issued
    server: Issued
    alice: Issued
    bob: Issued
    mallory: Issued


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    ca = _issue(folder, "ca", "stepup-mfa test CA", None, ca=True)
    return Pki(
        ca=ca,
        server=_issue(folder, "server", "127.0.0.1", ca, server=True),
        alice=_issue(folder, "alice", "client alice", ca),
        bob=_issue(folder, "bob", "client bob", ca),
        mallory=_issue(folder, "mallory", "client mallory (self-signed)", None),
    )
