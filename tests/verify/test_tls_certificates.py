"""R8414-5: metadata and JWKS are fetched over TLS with the certificate checked.

A real HTTPS server on 127.0.0.1 serves the issuer's metadata and JWKS with a certificate the
test makes. Signed by a CA the client does not trust, or naming another host, the fetch fails and
requests get 503 (never 200); with a transport that trusts the test's CA the same server is used
(the control: the refusals come from the certificate check, not from the server).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stepup_mfa import AUTHENTICATED, Guard, JWTVerifier, RequestView, VerifierUnavailable
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.testing import TokenFactory

AUDIENCE = "https://api.example.com"


@dataclass(frozen=True)
class Certificates:
    ca_pem: bytes
    chain: Path
    key: Path


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_certificates(folder: Path, san: x509.GeneralName) -> Certificates:
    """A CA and a server certificate it signed for ``san``, written as PEM files."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("stepup-mfa test CA"))
        .issuer_name(_name("stepup-mfa test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("authorization server"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain, key_path = folder / "server.pem", folder / "server.key"
    chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Certificates(ca.public_bytes(serialization.Encoding.PEM), chain, key_path)


class TlsIssuer:
    """Metadata and JWKS over HTTPS on a free loopback port."""

    def __init__(self, certificates: Certificates) -> None:
        documents: dict[str, bytes] = {}

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return

            def do_GET(self) -> None:
                body = documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates.chain, certificates.key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.issuer = f"https://127.0.0.1:{self._server.server_address[1]}"
        self.tokens = TokenFactory(self.issuer, AUDIENCE)
        metadata = {"issuer": self.issuer, "jwks_uri": self.issuer + "/jwks.json"}
        documents["/.well-known/oauth-authorization-server"] = json.dumps(metadata).encode()
        documents["/jwks.json"] = json.dumps(self.tokens.jwks).encode()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    def __enter__(self) -> TlsIssuer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def trusted_san(tmp_path: Path) -> Iterator[tuple[TlsIssuer, Certificates]]:
    certificates = make_certificates(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    with TlsIssuer(certificates) as issuer:
        yield issuer, certificates


def guard_for(issuer: TlsIssuer, transport: HttpxTransport | None = None) -> Guard:
    return Guard(JWTVerifier(issuer.issuer, AUDIENCE), transport=transport, refresh_ahead=None)


def request_with(token: str) -> RequestView:
    return RequestView("GET", "/dogs/", (f"Bearer {token}",), scheme="https")


def test_R8414_5_a_certificate_from_an_untrusted_ca_fails_the_fetch(
    trusted_san: tuple[TlsIssuer, Certificates],
) -> None:
    issuer, _ = trusted_san
    guard = guard_for(issuer)
    try:
        with pytest.raises(VerifierUnavailable) as raised:
            guard.startup()
        assert "certificate" in str(raised.value).lower()
        decision = guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED)
        assert not decision.allowed
        assert guard.denial(decision).status == 503
    finally:
        guard.close()


def test_R8414_5_a_certificate_naming_another_host_fails_the_fetch(tmp_path: Path) -> None:
    certificates = make_certificates(tmp_path, x509.DNSName("idp.example.com"))
    with TlsIssuer(certificates) as issuer:
        context = ssl.create_default_context(cadata=certificates.ca_pem.decode("ascii"))
        guard = guard_for(issuer, HttpxTransport(verify=context))
        try:
            decision = guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED)
            assert not decision.allowed
            assert guard.denial(decision).status == 503
        finally:
            guard.close()


def test_R8414_5_control_the_same_server_is_used_once_its_ca_is_trusted(
    trusted_san: tuple[TlsIssuer, Certificates],
) -> None:
    issuer, certificates = trusted_san
    context = ssl.create_default_context(cadata=certificates.ca_pem.decode("ascii"))
    guard = guard_for(issuer, HttpxTransport(verify=context))
    try:
        guard.startup()
        assert guard.check(request_with(issuer.tokens.mfa_token()), AUTHENTICATED).allowed
    finally:
        guard.close()
