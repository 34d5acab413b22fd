"""Certificate-bound tokens over real TLS (RFC 8705 §3, §6.5): certificates made by the test,
real servers on 127.0.0.1, httpx presenting the client certificate.

- uvicorn terminating TLS itself (``ssl_cert_reqs=CERT_OPTIONAL``). uvicorn 0.54 and hypercorn 0.18
  do not fill the ASGI TLS extension, so the server runs uvicorn's own h11 protocol plus the few
  lines that put the connection's peer certificate into ``scope["extensions"]["tls"]`` the way
  the extension specifies (a server that implements it needs no such help).
- werkzeug's WSGI server with an ``ssl_context``, which sets ``environ["SSL_CLIENT_CERT"]``.
- nginx (``ssl_verify_client optional_no_ca``, ``$ssl_client_escaped_cert``) and Caddy
  (``client_auth { mode request }``, ``certificate_der_base64``) terminating TLS in front of
  uvicorn, the app trusting their header by name.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask
import httpx
import pytest
import uvicorn
from tests.dpop.dpop_kit import NOW, StubVerifier
from tests.gateway.gateway_stack import free_port, require_binary
from tests.mtls.mtls_kit import Issued, Pki
from uvicorn.protocols.http.h11_impl import H11Protocol
from werkzeug.serving import make_server

from stepup_mfa import Guard, MutualTLS, Policy, parse_www_authenticate
from stepup_mfa.asgi import StepUpMiddleware
from stepup_mfa.integrations.flask import FlaskStepUp, get_principal
from stepup_mfa.routes import Route, RouteTable

BOUND = Policy(require_bound_token=True, name="bound")
TABLE = RouteTable([Route("GET", "/bound/", BOUND), Route("GET", "/any/", Policy())])
STARTUP_TIMEOUT = 20.0


def tokens(stub: StubVerifier, pki: Pki) -> dict[str, str]:
    """A token bound to each certificate, and one bound to none."""
    found = {
        who: stub.add(f"{who}-token", cnf={"x5t#S256": getattr(pki, who).x5t})
        for who in ("alice", "bob", "mallory")
    }
    found["plain"] = stub.add("plain-token")
    return found


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


class TLSExtensionH11(H11Protocol):
    """uvicorn's h11 protocol, plus the ASGI TLS extension (client_cert_chain: PEM, leaf first)."""

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        tls = {
            "server_cert": None,
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_name": None,
            "client_cert_error": None,
            "tls_version": None,
            "cipher_suite": None,
        }
        inner = self.app

        async def with_tls(scope: dict[str, Any], receive: Any, send: Any) -> None:
            scope.setdefault("extensions", {})["tls"] = tls
            await inner(scope, receive, send)

        self.app = with_tls


def wait_for_port(port: int, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        assert alive(), "the server exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def run_uvicorn(app: Any, **options: Any) -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, ws="none", lifespan="off", log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(2000):
            if server.started:
                break
            thread.join(0.01)
        assert server.started
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def client_for(pki: Pki, who: Issued | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(pki.ca.cert_path))
    if who is not None:
        context.load_cert_chain(*who.pair)
    return httpx.Client(verify=context, timeout=10.0)


def get(pki: Pki, url: str, who: Issued | None, token: str, **headers: str) -> httpx.Response:
    with client_for(pki, who) as client:
        return client.get(url, headers={"Authorization": f"Bearer {token}", **headers})


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401
    (challenge,) = parse_www_authenticate(response.headers["www-authenticate"])
    assert challenge.error == "invalid_token"


# -- uvicorn terminating TLS, the ASGI TLS extension -----------------------------------------------


@pytest.fixture(scope="module")
def stub_and_tokens(pki: Pki) -> tuple[StubVerifier, dict[str, str]]:
    stub = StubVerifier()
    return stub, tokens(stub, pki)


@pytest.fixture(scope="module")
def uvicorn_tls(pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]) -> Iterator[str]:
    stub, _ = stub_and_tokens
    guard = Guard(stub, clock=lambda: NOW, mtls=MutualTLS())
    app = StepUpMiddleware(hello, guard=guard, routes=TABLE)
    yield from (
        f"https://127.0.0.1:{port}"
        for port in run_uvicorn(
            app,
            http=TLSExtensionH11,
            ssl_certfile=str(pki.server.cert_path),
            ssl_keyfile=str(pki.server.key_path),
            ssl_ca_certs=str(pki.ca.cert_path),
            ssl_cert_reqs=ssl.CERT_OPTIONAL,
        )
    )


def test_R8705_1_asgi_tls_extension_bound_client_admitted(
    uvicorn_tls: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]
) -> None:
    token = stub_and_tokens[1]["alice"]
    for path in ("/bound/", "/any/"):
        response = get(pki, uvicorn_tls + path, pki.alice, token)
        assert (response.status_code, response.text) == (200, "hello")


def test_R8705_1_M2_asgi_tls_extension_other_certificate(
    uvicorn_tls: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]
) -> None:
    assert_invalid_token(get(pki, uvicorn_tls + "/any/", pki.bob, stub_and_tokens[1]["alice"]))


def test_R8705_2_M1_asgi_tls_extension_no_certificate(
    uvicorn_tls: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]
) -> None:
    assert_invalid_token(get(pki, uvicorn_tls + "/any/", None, stub_and_tokens[1]["alice"]))


def test_MTLS_1_asgi_require_bound_token_over_real_tls(
    uvicorn_tls: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]
) -> None:
    """A client certificate does not make an unbound token bound; on /any/ it is welcome."""
    plain = stub_and_tokens[1]["plain"]
    assert_invalid_token(get(pki, uvicorn_tls + "/bound/", pki.alice, plain))
    assert get(pki, uvicorn_tls + "/any/", pki.alice, plain).status_code == 200


def test_R8705_6_M3_asgi_forged_header_ignored_when_not_named(
    uvicorn_tls: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]
) -> None:
    from urllib.parse import quote

    forged = {"X-Client-Cert": quote(pki.alice.pem, safe="")}
    response = get(pki, uvicorn_tls + "/any/", None, stub_and_tokens[1]["alice"], **forged)
    assert_invalid_token(response)


# -- werkzeug's WSGI server terminating TLS, SSL_CLIENT_CERT ---------------------------------------


@pytest.fixture(scope="module")
def werkzeug_tls(pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]) -> Iterator[str]:
    stub, _ = stub_and_tokens
    app = flask.Flask(__name__)
    stepup = FlaskStepUp(Guard(stub, clock=lambda: NOW, mtls=MutualTLS()), app)

    @app.get("/bound/")
    @stepup.require(BOUND)
    def bound() -> str:
        principal = get_principal()
        return principal.subject if principal is not None else "-"

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pki.server.pair)
    context.load_verify_locations(str(pki.ca.cert_path))
    context.verify_mode = ssl.CERT_OPTIONAL
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.mark.parametrize(("who", "ok"), [("alice", True), ("bob", False), (None, False)])
def test_R8705_1_R8705_2_wsgi_ssl_client_cert(
    werkzeug_tls: str,
    pki: Pki,
    stub_and_tokens: tuple[StubVerifier, dict[str, str]],
    who: str | None,
    ok: bool,
) -> None:
    client = getattr(pki, who) if who is not None else None
    response = get(pki, werkzeug_tls + "/bound/", client, stub_and_tokens[1]["alice"])
    if ok:
        assert (response.status_code, response.text) == (200, "alice")
    else:
        assert_invalid_token(response)


# -- nginx and Caddy terminating TLS in front of uvicorn, a trusted header -------------------------

NGINX_CONF = """
daemon off;
pid nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path client_body;
    proxy_temp_path proxy;
    fastcgi_temp_path fastcgi;
    uwsgi_temp_path uwsgi;
    scgi_temp_path scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        # Ask for a certificate, do not judge its chain: the token names the certificate.
        ssl_verify_client optional_no_ca;
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            # Replaces any X-Client-Cert the client sent; empty (so not sent) without a certificate.
            proxy_set_header X-Client-Cert $ssl_client_escaped_cert;
        }}
    }}
}}
"""

CADDYFILE = """
{{
    admin off
    auto_https off
    # The test reaches Caddy by IP, so its client sends no SNI: let that match this site's
    # TLS connection policy (the one that asks for a client certificate).
    default_sni 127.0.0.1
    servers {{
        strict_sni_host insecure_off
    }}
}}
https://127.0.0.1:{port} {{
    tls {cert} {key} {{
        client_auth {{
            mode request
        }}
    }}
    reverse_proxy 127.0.0.1:{upstream} {{
        header_up X-Client-Cert {{http.request.tls.client.certificate_der_base64}}
    }}
}}
"""


def start_proxy(
    kind: str, folder: Path, pki: Pki, upstream: int
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    values = {
        "port": port,
        "upstream": upstream,
        "cert": pki.server.cert_path,
        "key": pki.server.key_path,
    }
    log = open(folder / "log.txt", "wb")
    if kind == "nginx":
        conf = folder / "nginx.conf"
        conf.write_text(NGINX_CONF.format(**values))
        argv = [require_binary("nginx"), "-p", str(folder), "-c", str(conf), "-e", "stderr"]
        env = dict(os.environ)
    else:
        conf = folder / "Caddyfile"
        conf.write_text(CADDYFILE.format(**values))
        argv = [require_binary("caddy"), "run", "--config", str(conf), "--adapter", "caddyfile"]
        env = dict(
            os.environ, HOME=str(folder), XDG_CONFIG_HOME=str(folder), XDG_DATA_HOME=str(folder)
        )
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    log.close()
    try:
        wait_for_port(port, lambda: process.poll() is None)
    except AssertionError:
        process.kill()
        process.wait(5)
        raise AssertionError((folder / "log.txt").read_text("utf-8", "replace")) from None
    return process, port


FORMATS = {"nginx": "pem-urlencoded", "caddy": "der-base64"}


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def proxied(
    request: pytest.FixtureRequest,
    pki: Pki,
    stub_and_tokens: tuple[StubVerifier, dict[str, str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    kind: str = request.param
    mtls = MutualTLS(trusted_proxy_header="X-Client-Cert", header_format=FORMATS[kind])  # type: ignore[arg-type]
    guard = Guard(stub_and_tokens[0], clock=lambda: NOW, mtls=mtls)
    for upstream in run_uvicorn(StepUpMiddleware(hello, guard=guard, routes=TABLE), http="h11"):
        process, port = start_proxy(kind, tmp_path_factory.mktemp(kind), pki, upstream)
        try:
            yield f"https://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


@pytest.mark.parametrize("who", ["alice", "mallory"])
def test_R8705_1_R8705_5_proxy_header_bound_client_admitted(
    proxied: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]], who: str
) -> None:
    """mallory's certificate is self-signed: the chain is not judged, possession is (R8705-5)."""
    response = get(pki, proxied + "/bound/", getattr(pki, who), stub_and_tokens[1][who])
    assert (response.status_code, response.text) == (200, "hello")


def test_R8705_1_M2_proxy_header_other_certificate(
    proxied: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]
) -> None:
    assert_invalid_token(get(pki, proxied + "/bound/", pki.bob, stub_and_tokens[1]["alice"]))


def test_R8705_2_M1_proxy_header_no_certificate(
    proxied: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]]
) -> None:
    assert_invalid_token(get(pki, proxied + "/bound/", None, stub_and_tokens[1]["alice"]))


@pytest.mark.parametrize("who", [None, "bob"])
def test_R8705_6_M3_proxy_replaces_a_forged_header(
    proxied: str, pki: Pki, stub_and_tokens: tuple[StubVerifier, dict[str, str]], who: str | None
) -> None:
    """The client sends alice's certificate as the header, in the proxy's own format; the proxy
    overwrites it with what the TLS handshake saw (nothing, or bob's)."""
    import base64
    from urllib.parse import quote

    client = getattr(pki, who) if who is not None else None
    for forged in (quote(pki.alice.pem, safe=""), base64.b64encode(pki.alice.der).decode()):
        response = get(
            pki,
            proxied + "/bound/",
            client,
            stub_and_tokens[1]["alice"],
            **{"X-Client-Cert": forged},
        )
        assert_invalid_token(response)
