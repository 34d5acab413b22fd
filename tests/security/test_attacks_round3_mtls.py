"""Round 3 attacks on certificate-bound tokens (RFC 8705, issue 14, docs/mtls.md).

The client forges the trusted proxy header the app reads (``X-Client-Cert``, base64 DER) in
spellings servers might map onto it (underscores, case, duplicates), sends garbage and huge
values, or presents a certificate-bound token with no or another certificate, over real
gunicorn, waitress, werkzeug, uvicorn and hypercorn on 127.0.0.1; and the ASGI TLS extension
is absent, empty or malformed. Every attempt must end in 401 ``invalid_token`` (never 200,
never 500). A hole is marked ``xfail(strict=True)``.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from werkzeug.serving import make_server

from stepup_mfa import MutualTLS, RequestView
from stepup_mfa.adapters._edge import asgi_view

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import round3_mtls_apps as apps  # noqa: E402

SERVERS = ("gunicorn", "waitress", "werkzeug", "uvicorn", "hypercorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(port: int, alive: Any) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _command(server: str, port: int) -> list[str]:
    py, bind = sys.executable, f"127.0.0.1:{port}"
    if server == "gunicorn":
        return [
            py,
            "-m",
            "gunicorn",
            "round3_mtls_apps:wsgi_app()",
            "--bind",
            bind,
            "--workers",
            "1",
        ]
    if server == "waitress":
        return [py, "-m", "waitress", f"--listen={bind}", "--call", "round3_mtls_apps:wsgi_app"]
    if server == "uvicorn":
        return [
            *(py, "-m", "uvicorn", "--factory", "round3_mtls_apps:asgi_app"),
            *("--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
        ]
    assert server == "hypercorn"
    return [py, "-m", "hypercorn", "round3_mtls_apps:asgi_app()", "--bind", bind]


@pytest.fixture(scope="module", params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, int]]:
    name: str = request.param
    port = _free_port()
    if name == "werkzeug":
        httpd = make_server("127.0.0.1", port, apps.wsgi_app(), threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield name, port
        finally:
            httpd.shutdown()
            thread.join(10)
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.getcwd()]))
    process = subprocess.Popen(
        _command(name, port),
        cwd=HERE,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port, lambda: process.poll() is None)
        yield name, port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def raw_get(port: int, path: str, headers: list[tuple[str, str]]) -> tuple[int, bytes]:
    """One request written byte for byte (header names exactly as given); status and head."""
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    status_line, _, head = received.partition(b"\r\n")
    return int(status_line.split()[1]), head


ALICE = ("Authorization", "Bearer alice-token")
PLAIN = ("Authorization", "Bearer plain-token")


def test_mtls_baseline_the_proxy_header_admits_the_bound_client(server: tuple[str, int]) -> None:
    """Not an attack: the header as the proxy writes it admits the bound token (R8705-1), so
    the refusals below are the attacks' doing."""
    assert raw_get(server[1], "/bound/", [ALICE, ("X-Client-Cert", apps.ALICE_HEADER)])[0] == 200


@pytest.mark.parametrize(
    "forged",
    [
        "X_Client_Cert",
        "x_client_cert",
        "X-Client_Cert",
        "X_CLIENT-CERT",
        "X-Client-Cert ",
    ],
)
def test_mtls_underscore_spellings_of_the_trusted_header_are_never_read(
    server: tuple[str, int], forged: str
) -> None:
    """Attack: the proxy overwrites ``X-Client-Cert`` but passes other names; the client sends
    alice's certificate under a spelling a WSGI server could map onto ``HTTP_X_CLIENT_CERT``
    (underscores) or a name with trailing space (R8705-6, MTLS-3). 401 or the server's own
    400, never 200."""
    status, head = raw_get(server[1], "/bound/", [ALICE, (forged, apps.ALICE_HEADER)])
    assert status in (400, 401), (server[0], forged, status)
    if status == 401:
        assert b'error="invalid_token"' in head


@pytest.mark.parametrize(
    "values",
    [
        (apps.ALICE_HEADER, apps.ALICE_HEADER),
        (apps.BOB_HEADER, apps.ALICE_HEADER),
        (apps.ALICE_HEADER, apps.BOB_HEADER),
    ],
    ids=["twice", "bob-then-alice", "alice-then-bob"],
)
@pytest.mark.parametrize("second_name", ["X-Client-Cert", "x-client-cert", "X-CLIENT-CERT"])
def test_mtls_the_trusted_header_twice_is_no_certificate(
    server: tuple[str, int], values: tuple[str, str], second_name: str
) -> None:
    """Attack: a forged copy next to the proxy's own (a proxy that appends instead of
    replacing), in any case (MTLS-3: a header sent twice counts as no certificate)."""
    headers = [ALICE, ("X-Client-Cert", values[0]), (second_name, values[1])]
    status, head = raw_get(server[1], "/bound/", headers)
    assert status == 401, (server[0], status)
    assert b'error="invalid_token"' in head


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64!",
        "====",
        base64.b64encode(apps.ALICE_DER).decode() + "\t" + "A" * 8,
        quote("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", safe=""),
        "A" * 30_000,
    ],
    ids=["empty", "garbage", "padding", "two-values-tab", "pem-in-der-mode", "huge"],
)
def test_mtls_garbage_in_the_trusted_header_is_a_401_not_a_500(
    server: tuple[str, int], value: str
) -> None:
    """Attack: values that do not decode, or are far too long, in the trusted header with a
    certificate-bound token (MTLS-3): 401 (or the server's own 400/431), never 200 or 5xx."""
    status, _ = raw_get(server[1], "/bound/", [ALICE, ("X-Client-Cert", value)])
    assert status in (400, 401, 431), (server[0], status)


def test_mtls_a_bound_token_with_another_certificate_is_refused(server: tuple[str, int]) -> None:
    """Attack: alice's token from bob's certificate (R8705-1, M2)."""
    status, head = raw_get(server[1], "/bound/", [ALICE, ("X-Client-Cert", apps.BOB_HEADER)])
    assert status == 401 and b"invalid_token" in head


def test_mtls_a_bound_token_without_a_certificate_is_refused_after_admissions(
    server: tuple[str, int],
) -> None:
    """Attack: three admitted requests with the certificate, then the same token without it,
    on the bound route and on a plain route (R8705-2: the binding holds on every route)."""
    for _ in range(3):
        assert raw_get(server[1], "/any/", [ALICE, ("X-Client-Cert", apps.ALICE_HEADER)])[0] == 200
    for path in ("/bound/", "/any/"):
        status, head = raw_get(server[1], path, [ALICE])
        assert status == 401 and b"invalid_token" in head, (server[0], path)


def test_mtls_an_unbound_token_with_a_certificate_does_not_meet_require_bound_token(
    server: tuple[str, int],
) -> None:
    """Attack: a plain bearer token plus some certificate on a ``require_bound_token`` route
    (MTLS-1: the token must be bound to that certificate)."""
    status, head = raw_get(server[1], "/bound/", [PLAIN, ("X-Client-Cert", apps.ALICE_HEADER)])
    assert status == 401 and b"invalid_token" in head


# -- the ASGI TLS extension and a header the option does not name (no server needed) -----------


def _scope(headers: list[tuple[bytes, bytes]], extensions: Any = None) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    if extensions is not None:
        scope["extensions"] = extensions
    return scope


@pytest.mark.parametrize(
    "extensions",
    [
        None,
        {},
        {"tls": None},
        {"tls": {}},
        {"tls": {"client_cert_chain": []}},
        {"tls": {"client_cert_chain": ""}},
        {"tls": {"client_cert_chain": None}},
        {"tls": {"client_cert_chain": b"-----BEGIN CERTIFICATE-----"}},
        {"tls": {"client_cert_chain": [None, "x"]}},
        {"tls": {"client_cert_chain": [b"bytes, not a PEM string"]}},
        {"tls": {"client_cert_chain": 42}},
        {"tls": "not a mapping"},
        "not a mapping",
    ],
)
def test_mtls_an_absent_empty_or_malformed_tls_extension_is_no_certificate(
    extensions: Any,
) -> None:
    """Attack: what a server (or an inner middleware) might leave in ``scope["extensions"]``;
    the bound token must be refused, never a crash (R8705-2, fail closed)."""
    guard = apps.guard(header=None)
    view = asgi_view(
        _scope([(b"authorization", b"Bearer alice-token")], extensions), "/bound/", mtls=guard.mtls
    )
    assert view.client_cert is None
    decision = guard.check(view, apps.BOUND)
    assert not decision.allowed and decision.error.code == "invalid_token"


@pytest.mark.parametrize(
    "name", [b"x-client-cert", b"x-ssl-client-cert", b"ssl-client-cert", b"x-forwarded-client-cert"]
)
def test_mtls_client_sent_certificate_headers_are_ignored_when_the_option_is_off_or_names_another(
    name: bytes,
) -> None:
    """Attack: a client-sent certificate header when the app reads the TLS layer (option off)
    or names ``X-Other-Cert`` (R8705-6, M3)."""
    value = apps.ALICE_HEADER.encode()
    headers = [(b"authorization", b"Bearer alice-token"), (name, value)]
    for mtls in (MutualTLS(), MutualTLS(trusted_proxy_header="X-Other-Cert")):
        assert mtls.from_asgi(_scope(headers)) is None
        environ = {"HTTP_" + name.decode().upper().replace("-", "_"): value.decode()}
        assert mtls.from_wsgi(environ) is None


def test_mtls_a_url_encoded_pem_with_two_certificates_uses_the_leaf_only() -> None:
    """Attack: a pem-urlencoded value holding another certificate first and the bound one
    second (a chain with the victim's certificate appended, R8705-1): only the first counts."""
    mtls = MutualTLS(trusted_proxy_header="X-Client-Cert", header_format="pem-urlencoded")

    def pem(der: bytes) -> str:
        body = base64.b64encode(der).decode()
        return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"

    chain = quote(pem(apps.BOB_DER) + pem(apps.ALICE_DER), safe="")
    assert mtls.decode_header(chain) == apps.BOB_DER
    guard = apps.guard()
    view = RequestView(
        "GET", "/bound/", ("Bearer alice-token",), client_cert=mtls.decode_header(chain)
    )
    decision = guard.check(view, apps.BOUND)
    assert not decision.allowed and decision.error.code == "invalid_token"
