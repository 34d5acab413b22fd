"""Where the client certificate of a request comes from, for certificate-bound tokens (RFC 8705).

The rule itself (``cnf["x5t#S256"]`` against the certificate's thumbprint) lives in the core,
:func:`~stepup_mfa._core.decision.check_binding`; this module only finds the certificate, as DER
bytes, in what the server hands the adapters. There are two sources, one at a time:

- **The TLS layer** (the default): the server terminated TLS itself and asked for a client
  certificate. ASGI servers that implement the ASGI TLS extension put it in
  ``scope["extensions"]["tls"]["client_cert_chain"]`` (PEM, leaf first); WSGI servers that export
  it put the PEM in ``environ["SSL_CLIENT_CERT"]`` (werkzeug's server with an ``ssl_context``,
  Apache mod_wsgi with ``SSLOptions +ExportCertData``). Neither can be set by a client: they are
  not request headers. gunicorn passes no client certificate to the app at all.
- **A header set by a trusted TLS-terminating proxy**, only when the user names it
  (``trusted_proxy_header``) and says how the proxy writes it (``header_format``). A header that
  is not named is never read, so a client's forged copy is ignored (R8705-6). Once it is named,
  the TLS layer is not consulted (the connection's certificate would be the proxy's), and the
  proxy must replace whatever the client sent under that name. A header sent twice, or a value
  that does not decode, counts as no certificate: a bound token is then refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal
from urllib.parse import unquote

from .._core.errors import ConfigurationError

#: How a proxy writes the client certificate into its header.
#: ``pem-urlencoded``: URL-encoded PEM (nginx ``$ssl_client_escaped_cert``);
#: ``der-base64``: base64 of the DER bytes
#: (Caddy ``{http.request.tls.client.certificate_der_base64}``).
HeaderFormat = Literal["pem-urlencoded", "der-base64"]
HEADER_FORMATS: frozenset[str] = frozenset({"pem-urlencoded", "der-base64"})
#: Library limit on one certificate as text (a chain of a few RSA-4096 certificates fits).
MAX_CERTIFICATE_TEXT = 32_768
#: The WSGI environ key servers use for the client certificate (PEM), after Apache's mod_ssl.
WSGI_CLIENT_CERT = "SSL_CLIENT_CERT"

_PEM = re.compile(r"-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----")
_HEADER_NAME = re.compile(r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")
#: Headers that already mean something to the Guard or the server: never a certificate channel.
_RESERVED = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "dpop",
        "cookie",
        "host",
        "content-type",
        "content-length",
        "transfer-encoding",
        "forwarded",
        "origin",
    }
)


def der_from_pem(text: str) -> bytes | None:
    """The DER bytes of the first certificate (the leaf) in PEM ``text``, ``None`` if there is
    none or it is not base64."""
    if len(text) > MAX_CERTIFICATE_TEXT:
        return None
    match = _PEM.search(text)
    if match is None:
        return None
    try:
        der = base64.b64decode("".join(match.group(1).split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return der or None


def _der_from_base64(text: str) -> bytes | None:
    if len(text) > MAX_CERTIFICATE_TEXT:
        return None
    try:
        der = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return der or None


class MutualTLS:
    """Accept certificate-bound access tokens (RFC 8705); pass it as ``Guard(..., mtls=...)``.

    - ``trusted_proxy_header``: ``None`` (the default) takes the certificate from the TLS layer
      of the connection the server terminated. A header name (``"X-Client-Cert"``) takes it from
      that header instead, as a TLS-terminating proxy in front of the app sets it; only name it
      when every request reaches the app through that proxy, and the proxy overwrites the header.
    - ``header_format``: how the proxy writes it, ``"pem-urlencoded"`` (nginx
      ``$ssl_client_escaped_cert``) or ``"der-base64"`` (Caddy
      ``{http.request.tls.client.certificate_der_base64}``).

    The chain is not validated here (R8705-5): the TLS handshake proved possession of the key,
    and the token names the certificate. Without ``mtls=``, certificate-bound tokens are refused.
    """

    __slots__ = ("_asgi_name", "_wsgi_key", "header_format", "trusted_proxy_header")

    def __init__(
        self,
        *,
        trusted_proxy_header: str | None = None,
        header_format: HeaderFormat = "pem-urlencoded",
    ) -> None:
        if header_format not in HEADER_FORMATS:
            raise ConfigurationError(
                f"header_format must be one of {sorted(HEADER_FORMATS)}, not {header_format!r}"
            )
        if trusted_proxy_header is not None and (
            not isinstance(trusted_proxy_header, str)
            or _HEADER_NAME.fullmatch(trusted_proxy_header) is None
            or trusted_proxy_header.lower() in _RESERVED
        ):
            raise ConfigurationError(
                "trusted_proxy_header must be a header name of letters, digits and '-' that "
                f"means nothing else to HTTP, not {trusted_proxy_header!r}"
            )
        self.trusted_proxy_header = trusted_proxy_header
        self.header_format: HeaderFormat = header_format
        lowered = trusted_proxy_header.lower() if trusted_proxy_header is not None else None
        self._asgi_name = lowered.encode("ascii") if lowered is not None else None
        self._wsgi_key = (
            "HTTP_" + lowered.upper().replace("-", "_") if lowered is not None else None
        )

    def __repr__(self) -> str:
        return (
            f"MutualTLS(trusted_proxy_header={self.trusted_proxy_header!r}, "
            f"header_format={self.header_format!r})"
        )

    def decode_header(self, value: str) -> bytes | None:
        """The DER certificate in ``value``, one value of the trusted header; ``None`` when it
        is empty (the proxy saw no certificate), holds several values, or does not decode."""
        if not value or "," in value:
            return None  # a comma is in neither format: two values were joined (WSGI)
        if self.header_format == "der-base64":
            return _der_from_base64(value)
        if len(value) > 3 * MAX_CERTIFICATE_TEXT:
            return None
        try:
            return der_from_pem(unquote(value, errors="strict"))
        except UnicodeError:
            return None

    def from_asgi(self, scope: Mapping[str, Any]) -> bytes | None:
        """The client certificate of an ASGI HTTP or websocket ``scope`` (DER), ``None`` if
        none."""
        name = self._asgi_name
        if name is not None:
            values = [value for key, value in scope.get("headers", ()) if key == name]
            if len(values) != 1:
                return None
            try:
                text = values[0].decode("ascii")
            except UnicodeError:
                return None
            return self.decode_header(text)
        extensions = scope.get("extensions")
        tls = extensions.get("tls") if isinstance(extensions, Mapping) else None
        if not isinstance(tls, Mapping):
            return None
        chain = tls.get("client_cert_chain")
        # ASGI TLS extension 0.2: an iterable of PEM strings, leaf first; a later draft proposes
        # one PEM string holding the chain. Either way the leaf comes first.
        if isinstance(chain, str):
            return der_from_pem(chain)
        if isinstance(chain, Iterable):
            for pem in chain:
                return der_from_pem(pem) if isinstance(pem, str) else None
        return None

    def from_wsgi(self, environ: Mapping[str, Any]) -> bytes | None:
        """The client certificate of a WSGI request's ``environ`` (DER), ``None`` if none."""
        key = self._wsgi_key
        if key is not None:
            value = environ.get(key)
            return self.decode_header(value) if isinstance(value, str) else None
        pem = environ.get(WSGI_CLIENT_CERT)
        return der_from_pem(pem) if isinstance(pem, str) else None
