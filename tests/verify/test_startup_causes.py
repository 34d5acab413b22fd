"""Start-up errors say what went wrong and what to try (issue 12), never in a response.

Each misconfiguration a new user makes is served for real on 127.0.0.1; ``Guard.startup()``
raises :class:`VerifierUnavailable` whose text names the cause, while the response a request would
get keeps the fixed public description.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest

from stepup_mfa import Guard, JWTVerifier, VerifierUnavailable
from stepup_mfa.testing import FakeIssuer
from stepup_mfa.testing.server import LocalHTTPServer, RecordedRequest, Reply

AUDIENCE = "https://api.example.com"


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer(poll_interval=0.05) as running:
        yield running


def startup_error(issuer: str) -> VerifierUnavailable:
    guard = Guard(JWTVerifier(issuer, AUDIENCE, allow_insecure_http=True), refresh_ahead=None)
    try:
        with pytest.raises(VerifierUnavailable) as raised:
            guard.startup()
    finally:
        guard.close()
    return raised.value


def answer(reply: Reply) -> Callable[[RecordedRequest], Reply]:
    return lambda _request: reply


def test_r8414_3_an_issuer_with_a_trailing_slash_names_the_metadata_issuer() -> None:
    with FakeIssuer(AUDIENCE) as issuer:
        error = startup_error(issuer.issuer + "/")
    assert issuer.issuer in str(error) and "trailing slash" in str(error)


def test_a_wrong_issuer_path_names_the_urls_and_their_status(server: LocalHTTPServer) -> None:
    error = startup_error(server.url + "/realms/wrong")
    assert "answered 404" in str(error) and "issuer's path" in str(error)


def test_an_html_page_at_the_metadata_url_is_named(server: LocalHTTPServer) -> None:
    page = Reply(200, b"<html>login</html>", {"Content-Type": "text/html"})
    server.routes["/.well-known/oauth-authorization-server"] = answer(page)
    error = startup_error(server.url)
    assert "text/html" in str(error) and "issuer identifier" in str(error)


def test_https_to_a_plain_http_server_is_named(server: LocalHTTPServer) -> None:
    error = startup_error(server.url.replace("http://", "https://"))
    assert "the server plain http" in str(error)


def test_a_refused_connection_is_named() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    error = startup_error(f"http://127.0.0.1:{port}")
    assert "ConnectError" in str(error) and "running" in str(error)


def test_a_jwks_that_is_not_json_is_named() -> None:
    with FakeIssuer(AUDIENCE) as issuer:
        issuer.server.routes["/jwks.json"] = answer(
            Reply(200, b"nope", {"Content-Type": "text/plain"})
        )
        error = startup_error(issuer.issuer)
    assert "jwks.json answered text/plain" in str(error)


def test_the_cause_never_reaches_a_response() -> None:
    with FakeIssuer(AUDIENCE) as issuer:
        error = startup_error(issuer.issuer + "/")
    assert error.cause is not None and error.cause not in error.description
