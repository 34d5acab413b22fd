"""An RFC 7662 introspection endpoint on 127.0.0.1 that the tests steer, plus small helpers.

The stub answers per token from a table the test fills, checks the resource server's client
authentication (Basic, POST body or a ``private_key_jwt`` assertion it verifies), counts calls and
can be made slow, erroring, garbled or closed through the underlying :class:`LocalHTTPServer`.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, unquote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from stepup_mfa._core.principal import Principal
from stepup_mfa._verify.flow import Flow, SyncTransport, TransportError, run_sync
from stepup_mfa._verify.introspection import IntrospectionVerifier
from stepup_mfa.testing.server import LocalHTTPServer, RecordedRequest, Reply, wait_until

T = TypeVar("T")

#: The frozen test clock (checklist fixtures: "now is a frozen test clock").
NOW = 1_800_000_000
ISSUER = "https://as.example.com"
AUDIENCE = "https://api.example.com"
CLIENT_ID = "rs-api"
CLIENT_SECRET = "s3cr:t é+/%"
PATH = "/introspect"

AuthMethod = Literal["basic", "post", "private_key_jwt"]


def active(**members: Any) -> dict[str, Any]:
    """A typical active answer for the seed's ``/cats/`` route, with ``members`` overriding."""
    answer: dict[str, Any] = {
        "active": True,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u1",
        "client_id": "app",
        "scope": "cats:read",
        "token_type": "Bearer",
        "exp": NOW + 300,
        "iat": NOW - 30,
        "auth_time": NOW - 30,
        "acr": "urn:example:acr:mfa",
        "amr": ["pwd", "otp"],
    }
    answer.update(members)
    return answer


@dataclass
class IntrospectionStub:
    """The authorization server's introspection endpoint, as the tests want it to behave."""

    server: LocalHTTPServer
    auth: AuthMethod = "basic"
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    #: Public key that verifies ``private_key_jwt`` assertions.
    assertion_key: RSAKey | ECKey | OKPKey | None = None
    #: token -> JSON answer (a document, or a Reply for full control). Unknown -> inactive.
    answers: dict[str, dict[str, Any] | Reply] = field(default_factory=dict)
    #: Hold every answer until this returns true (to make requests overlap on purpose).
    release_when: Callable[[], bool] | None = None
    #: Why the stub refused client authentication, for assertions.
    auth_failures: list[str] = field(default_factory=list)
    assertions: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return self.server.url + PATH

    @property
    def calls(self) -> int:
        return self.server.count(PATH)

    @property
    def requests(self) -> list[RecordedRequest]:
        return [r for r in self.server.requests if r.path == PATH]

    def __call__(self, request: RecordedRequest) -> Reply:
        if self.release_when is not None:
            wait_until(self.release_when, timeout=10)
        form = dict(parse_qsl(request.body.decode("ascii"), keep_blank_values=True))
        failure = self._authenticate(request, form)
        if failure is not None:
            with self._lock:
                self.auth_failures.append(failure)
            return Reply.json({"error": "invalid_client"}, status=401)
        answer = self.answers.get(form.get("token", ""), {"active": False})
        if isinstance(answer, Reply):
            return answer
        return Reply.json(answer)

    def _authenticate(self, request: RecordedRequest, form: dict[str, str]) -> str | None:
        if self.auth == "basic":
            header = request.headers.get("authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                return "no basic credentials"
            user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
            if (unquote(user), unquote(password)) != (self.client_id, self.client_secret):
                return "wrong basic credentials"
            return None
        if self.auth == "post":
            if (form.get("client_id"), form.get("client_secret")) != (
                self.client_id,
                self.client_secret,
            ):
                return "wrong post credentials"
            return None
        return self._check_assertion(form)

    def _check_assertion(self, form: dict[str, str]) -> str | None:
        """RFC 7523 §3 as an authorization server would check it."""
        if form.get("client_assertion_type") != (
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        ):
            return "wrong assertion type"
        assert self.assertion_key is not None
        try:
            token = jwt.decode(
                form.get("client_assertion", ""),
                self.assertion_key,
                algorithms=["ES256", "RS256", "PS256", "Ed25519"],
            )
        except (JoseError, ValueError):
            return "bad assertion signature"
        claims = token.claims
        with self._lock:
            seen = {a["jti"] for a in self.assertions}
            self.assertions.append(claims)
        if claims.get("iss") != self.client_id or claims.get("sub") != self.client_id:
            return "wrong iss/sub"
        if claims.get("aud") != self.endpoint:
            return "wrong aud"
        if not isinstance(claims.get("jti"), str) or claims["jti"] in seen:
            return "replayed jti"
        if not 0 < claims["exp"] - claims["iat"] <= 300 or claims["exp"] <= NOW:
            return "bad lifetime"
        return None


def stub_on(server: LocalHTTPServer, **options: Any) -> IntrospectionStub:
    """A fresh stub on ``server`` (shared by a module: stopping a server costs half a second)."""
    server.reset()
    stub = IntrospectionStub(server, **options)
    server.routes[PATH] = stub
    return stub


def verifier_for(stub: IntrospectionStub, **options: Any) -> IntrospectionVerifier:
    from stepup_mfa._verify.introspection import ClientSecretBasic

    settings: dict[str, Any] = {
        "client_auth": ClientSecretBasic(CLIENT_ID, CLIENT_SECRET),
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "timeout": 2.0,
    }
    settings.update(options)
    return IntrospectionVerifier(stub.endpoint, **settings)


def check(
    verifier: IntrospectionVerifier,
    token: str,
    now: float,
    transport: SyncTransport,
    max_cache_age: float | None = None,
) -> Principal:
    """What the Guard does: the hot path first, the flow when the cache has no answer."""
    principal = verifier.cached(token, now, max_cache_age)
    if principal is None:
        principal = run_sync(verifier.verify(token, now), transport)
    return principal


class Arrivals:
    """Counts flows that reached the point of sending their request (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def __call__(self) -> None:
        with self._lock:
            self.count += 1


def announcing(flow: Flow[T], arrived: Callable[[], None]) -> Flow[T]:
    """Pass ``flow`` through unchanged, calling ``arrived`` each time it yields a request."""
    try:
        request = next(flow)
        while True:
            arrived()
            try:
                response = yield request
            except TransportError as exc:
                request = flow.throw(exc)
            else:
                request = flow.send(response)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path


def self_signed_localhost(directory: Path) -> TLSFiles:
    """A self-signed certificate for 127.0.0.1 (a CA to itself), written as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stepup-mfa test")])
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    files = TLSFiles(directory / "cert.pem", directory / "key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class TLSIntrospectionServer:
    """A minimal https introspection endpoint on 127.0.0.1 that answers every POST as active."""

    def __init__(self, files: TLSFiles, answer: dict[str, Any]) -> None:
        body = json.dumps(answer).encode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(files.cert, files.key)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        port = self._httpd.server_address[1]
        return f"https://127.0.0.1:{port}{PATH}"

    def __enter__(self) -> TLSIntrospectionServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
