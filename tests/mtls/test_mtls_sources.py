"""Where the client certificate comes from (RFC 8705 §3, §6.5): the ASGI TLS extension, the WSGI
``SSL_CLIENT_CERT`` key, or a header a trusted TLS-terminating proxy sets, read only when named."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.mtls.mtls_kit import Pki

from stepup_mfa import ConfigurationError, MutualTLS
from stepup_mfa.adapters._edge import asgi_view, wsgi_view

TRUSTED = MutualTLS(trusted_proxy_header="X-Client-Cert")
CADDY = MutualTLS(trusted_proxy_header="X-Client-Cert", header_format="der-base64")


def scope(headers: list[tuple[bytes, bytes]] = (), tls: Any = None) -> dict[str, Any]:  # type: ignore[assignment]
    result: dict[str, Any] = {"type": "http", "method": "GET", "headers": list(headers)}
    if tls is not None:
        result["extensions"] = {"tls": tls}
    return result


def escaped(pem: str) -> bytes:
    """What nginx's ``$ssl_client_escaped_cert`` looks like: the PEM, URL-encoded."""
    return quote(pem, safe="").encode("ascii")


def test_asgi_tls_extension_chain_leaf_first(pki: Pki) -> None:
    """ASGI TLS extension 0.2: ``client_cert_chain`` is PEM strings, the client's first."""
    tls = {"client_cert_chain": [pki.alice.pem, pki.ca.pem], "server_cert": None}
    assert MutualTLS().from_asgi(scope(tls=tls)) == pki.alice.der


def test_asgi_tls_extension_chain_as_one_string(pki: Pki) -> None:
    """The later proposal: one PEM string holding the chain; the leaf comes first there too."""
    tls = {"client_cert_chain": pki.alice.pem + pki.ca.pem}
    assert MutualTLS().from_asgi(scope(tls=tls)) == pki.alice.der


@pytest.mark.parametrize(
    "tls",
    [
        {},
        {"client_cert_chain": []},
        {"client_cert_chain": ""},
        {"client_cert_chain": None},
        {"client_cert_chain": [42]},
        {"client_cert_chain": ["not a certificate"]},
        "tls",
    ],
)
def test_asgi_no_client_certificate(tls: Any) -> None:
    assert MutualTLS().from_asgi(scope(tls=tls)) is None
    assert MutualTLS().from_asgi(scope()) is None


def test_R8705_6_M3_a_header_that_is_not_named_is_never_read(pki: Pki) -> None:
    forged = scope([(b"x-client-cert", escaped(pki.alice.pem))])
    assert MutualTLS().from_asgi(forged) is None
    environ = {"HTTP_X_CLIENT_CERT": escaped(pki.alice.pem).decode()}
    assert MutualTLS().from_wsgi(environ) is None


def test_R8705_6_a_named_header_replaces_the_tls_layer(pki: Pki) -> None:
    """Behind a proxy the connection's certificate is the proxy's: only the header counts."""
    tls = {"client_cert_chain": [pki.bob.pem]}
    assert TRUSTED.from_asgi(scope([(b"x-client-cert", escaped(pki.alice.pem))], tls)) == (
        pki.alice.der
    )
    assert TRUSTED.from_asgi(scope(tls=tls)) is None


def test_named_header_formats(pki: Pki) -> None:
    import base64

    assert TRUSTED.from_asgi(scope([(b"x-client-cert", escaped(pki.alice.pem))])) == pki.alice.der
    caddy = base64.b64encode(pki.alice.der)
    assert CADDY.from_asgi(scope([(b"x-client-cert", caddy)])) == pki.alice.der
    assert CADDY.from_wsgi({"HTTP_X_CLIENT_CERT": caddy.decode()}) == pki.alice.der


def test_MTLS_3_the_named_header_twice_is_no_certificate(pki: Pki) -> None:
    """Two copies mean the proxy did not replace the client's: fail closed for bound tokens."""
    twice = [(b"x-client-cert", escaped(pki.alice.pem))] * 2
    assert TRUSTED.from_asgi(scope(twice)) is None
    joined = ",".join([escaped(pki.alice.pem).decode()] * 2)  # how WSGI servers join them
    assert TRUSTED.from_wsgi({"HTTP_X_CLIENT_CERT": joined}) is None


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"-",
        b"%ZZ",
        b"%C3%28",
        b"\xff",
        b"-----BEGIN CERTIFICATE-----%0A%21%21%0A-----END CERTIFICATE-----",
        b"A" * 200_000,
    ],
)
def test_MTLS_3_a_value_that_does_not_decode_is_no_certificate(value: bytes) -> None:
    assert TRUSTED.from_asgi(scope([(b"x-client-cert", value)])) is None
    assert CADDY.from_asgi(scope([(b"x-client-cert", value)])) is None


def test_wsgi_ssl_client_cert(pki: Pki) -> None:
    """werkzeug's server and Apache mod_wsgi put the client's PEM in ``SSL_CLIENT_CERT``."""
    assert MutualTLS().from_wsgi({"SSL_CLIENT_CERT": pki.alice.pem}) == pki.alice.der
    assert MutualTLS().from_wsgi({}) is None
    assert TRUSTED.from_wsgi({"SSL_CLIENT_CERT": pki.alice.pem}) is None


def test_the_view_builders_read_the_certificate_only_with_mtls(pki: Pki) -> None:
    tls = {"client_cert_chain": [pki.alice.pem]}
    assert asgi_view(scope(tls=tls), "/").client_cert is None
    assert asgi_view(scope(tls=tls), "/", mtls=MutualTLS()).client_cert == pki.alice.der
    assert asgi_view(scope(tls=tls), "/", ("Bearer x",), mtls=MutualTLS()).client_cert == (
        pki.alice.der
    )
    environ = {"REQUEST_METHOD": "GET", "SSL_CLIENT_CERT": pki.alice.pem}
    assert wsgi_view(environ, "/").client_cert is None
    assert wsgi_view(environ, "/", mtls=MutualTLS()).client_cert == pki.alice.der


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "dpop",
        "Host",
        "Cookie",
        "X_Client_Cert",
        "X-Client-Cert ",
        "",
        "a b",
        "X-Client-Cert\r\nX",
        "-X",
        42,
    ],
)
def test_MTLS_4_a_header_name_that_cannot_be_a_certificate_channel_fails_at_start_up(
    name: Any,
) -> None:
    with pytest.raises(ConfigurationError):
        MutualTLS(trusted_proxy_header=name)


def test_MTLS_4_an_unknown_header_format_fails_at_start_up() -> None:
    with pytest.raises(ConfigurationError):
        MutualTLS(trusted_proxy_header="X-Client-Cert", header_format="pem")  # type: ignore[arg-type]


@given(st.text(max_size=300))
def test_MTLS_3_any_header_value_decodes_or_is_none(value: str) -> None:
    for mtls in (TRUSTED, CADDY):
        result = mtls.decode_header(value)
        assert result is None or (isinstance(result, bytes) and result)


@given(st.binary(min_size=1, max_size=2048))
def test_R8705_3_every_header_format_gives_back_the_der_bytes(der: bytes) -> None:
    """Whatever the bytes, PEM (as the TLS layer hands it), URL-encoded PEM (nginx) and base64
    DER (Caddy) all give back exactly the DER bytes the thumbprint is taken over."""
    import base64
    import ssl

    pem = ssl.DER_cert_to_PEM_cert(der)
    assert MutualTLS().from_wsgi({"SSL_CLIENT_CERT": pem}) == der
    assert TRUSTED.decode_header(quote(pem, safe="")) == der
    assert CADDY.decode_header(base64.b64encode(der).decode()) == der
