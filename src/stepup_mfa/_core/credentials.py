"""Finding the access token in a request (RFC 6750 §2, RFC 9110 §11.6.2).

Adapters describe a request with a :class:`RequestView`; :func:`extract_credentials` decides
whether it carries a token, carries none, or is malformed. The query and form-body methods are
off by default (R6750-4, R6750-7); a token sent two ways is refused whether or not the second way
is enabled, because the client broke RFC 6750 §2 either way (R6750-3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs

from .errors import InvalidRequest

#: RFC 6750 §2.1 b64token: the only shape a bearer (or DPoP) token can have on the wire.
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: Library limit on the Authorization field value, checked before any decoding (attack P10).
MAX_AUTHORIZATION_LENGTH = 8192
#: Library limit on a urlencoded body read for its ``access_token`` (form-body method only):
#: past it the adapters answer 413 without buffering more (BIND-9).
MAX_FORM_BODY = 65536

TokenMethod = Literal["header", "query", "body"]

MULTIPLE_METHODS = "Multiple methods used to include access token"


@dataclass(frozen=True, slots=True)
class RequestView:
    """What the core needs to know about a request; adapters build it from their framework's.

    ``method`` is the HTTP method and ``path`` the path as routed. ``authorization`` holds every
    ``Authorization`` field line, in order. ``query_string`` is the raw query (for the RFC 6750
    query method, and to refuse a token sent two ways), ``content_type`` the request's media type.
    ``form_body`` is read by an adapter only when the form-body method is enabled (the Guard says
    so).
    """

    method: str
    path: str = "/"
    authorization: tuple[str, ...] = ()
    query_string: str = ""
    content_type: str | None = None
    form_body: bytes | None = None
    #: The URL scheme as the server reports it (its own proxy-header handling decides whether a
    #: proxy's ``X-Forwarded-Proto`` counts; this library never reads that header itself).
    scheme: str = ""
    #: Every ``DPoP`` proof field line, in order (RFC 9449 §4.1); the Guard checks there is one.
    dpop: tuple[str, ...] = ()
    #: The DER client certificate of the TLS connection (RFC 8705 §3), as the adapters find it
    #: with a :class:`~stepup_mfa.MutualTLS` configuration; ``None``: none presented, or not asked.
    client_cert: bytes | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    """A token and how it was sent."""

    token: str
    scheme: Literal["Bearer", "DPoP"] = "Bearer"
    method: TokenMethod = "header"


@dataclass(frozen=True, slots=True)
class TokenMethods:
    """Which RFC 6750 §2 methods are accepted. Only the header is on by default.

    ``query`` turns on ``?access_token=`` (§2.3) and ``body`` the form-encoded body parameter
    (§2.2); both are off unless asked for. ``max_length`` bounds the ``Authorization`` value;
    ``max_body_length`` the form body the adapters read when ``body`` is on (larger bodies get
    ``413``).
    """

    query: bool = False
    body: bool = False
    max_length: int = MAX_AUTHORIZATION_LENGTH
    max_body_length: int = MAX_FORM_BODY
    #: ``Authorization: DPoP <token>`` is understood (RFC 9449 §7.1); the Guard turns it on when it
    #: is given a :class:`~stepup_mfa.DPoP` checker. Otherwise DPoP is an unsupported scheme.
    dpop: bool = False


DEFAULT_METHODS = TokenMethods()


def extract_credentials(
    request: RequestView, methods: TokenMethods = DEFAULT_METHODS
) -> Credentials | None:
    """The bearer token of ``request``, ``None`` when it has none (or only unsupported schemes).

    Raises :class:`~stepup_mfa.InvalidRequest` for a malformed attempt: several ``Authorization``
    lines (R9110-4), a Bearer credential that is not a b64token (R6750-2), an oversized header
    (attack P10), a repeated ``access_token`` (R6750-6) or a token sent two ways (R6750-3).
    """
    lines = request.authorization
    if len(lines) == 1 and not request.query_string and request.form_body is None:
        # The common case, decided without the general machinery: one well-formed line.
        value = lines[0]
        if (
            value[:7] == "Bearer "
            and len(value) <= methods.max_length
            and B64TOKEN.fullmatch(value, 7) is not None
        ):
            return Credentials(value[7:])
    header = _from_header(lines, methods.max_length, methods.dpop)
    query = _from_query(request.query_string)
    body = _from_body(request) if methods.body else None
    present = [c for c in (header, query, body) if c is not None]
    if len(present) > 1:
        raise InvalidRequest(MULTIPLE_METHODS)
    if query is not None and methods.query:
        return _checked(query, "query")
    if body is not None:
        return _checked(body, "body")
    if header is not None:
        if header[0] == "DPoP":
            return Credentials(header[1], "DPoP")
        return Credentials(header[1])
    return None


def authorization_scheme(line: str) -> str:
    """The scheme of one ``Authorization`` line, lower-cased (it ends at the first SP)."""
    return line.partition(" ")[0].lower()


def _from_header(
    lines: tuple[str, ...], max_length: int, dpop: bool = False
) -> tuple[Literal["Bearer", "DPoP"], str] | None:
    if not lines:
        return None
    if len(lines) > 1:
        schemes = {authorization_scheme(line) for line in lines}
        if dpop and {"bearer", "dpop"} <= schemes:
            # R9449-19 / D14: a Bearer and a DPoP credential at once is ambiguous.
            raise InvalidRequest(MULTIPLE_METHODS)
        raise InvalidRequest("Multiple Authorization headers")
    value = lines[0]
    if len(value) > max_length:
        raise InvalidRequest("Authorization header too large")
    # Library rule (R6750-2): the scheme ends at the first SP; "Bearer<TAB>x" is another scheme.
    scheme, space, rest = value.partition(" ")
    lowered = scheme.lower()
    if lowered == "bearer":
        name: Literal["Bearer", "DPoP"] = "Bearer"
    elif lowered == "dpop" and dpop:
        name = "DPoP"  # R9449-2: the scheme is case-insensitive, token68 like Bearer's
    else:
        return None
    token = rest.lstrip(" ")
    if not space or B64TOKEN.fullmatch(token) is None:
        raise InvalidRequest("Malformed Authorization header")
    return name, token


def _from_query(query_string: str) -> list[str] | None:
    # Not a substring test: a percent-encoded name ("access%5Ftoken") is the same parameter.
    if not query_string:
        return None
    values = parse_qs(query_string, keep_blank_values=True).get("access_token")
    return values or None


_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
_FORM = "application/x-www-form-urlencoded"


def body_may_carry_token(method: str, content_type: str | None) -> bool:
    """R6750-5: only a single-part urlencoded body, on a method with body semantics, may carry
    ``access_token``. Adapters ask this before reading a body at all."""
    if method.upper() in _NO_BODY_METHODS:
        return False
    return (content_type or "").split(";", 1)[0].strip().lower() == _FORM


def _from_body(request: RequestView) -> list[str] | None:
    body = request.form_body
    if not body or not body_may_carry_token(request.method, request.content_type):
        return None
    if not body.isascii():
        raise InvalidRequest("Request body is not ASCII")
    values = parse_qs(body.decode("ascii"), keep_blank_values=True).get("access_token")
    return values or None


def _checked(values: list[str], method: TokenMethod) -> Credentials:
    if len(values) > 1:
        raise InvalidRequest("Repeated access_token parameter")
    if B64TOKEN.fullmatch(values[0]) is None:
        raise InvalidRequest("Malformed access_token parameter")
    return Credentials(values[0], method=method)
