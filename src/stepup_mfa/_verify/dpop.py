"""DPoP proofs at the resource server (RFC 9449 §4.3, §7.1, §8, §11): sans-I/O and pure.

:class:`DPoP` checks the one ``DPoP`` header of a request that sent ``Authorization: DPoP``
against the request, the access token and the key the token is bound to. Time is an argument;
the only state is the replay store (each ``jti`` accepted once within the window) and, when
nonces are on, a shared secret. Checks, each with its checklist id:

- R9449-4 / D10: exactly one ``DPoP`` field line; R9449-5: one compact JWS with ``jti``, ``htm``,
  ``htu``, ``iat``, ``ath`` (and ``nonce`` in nonce mode); header and payload are read by the
  strict reader of ``jws.py`` (canonical base64url, strict JSON).
- R9449-6: ``typ`` is ``dpop+jwt``. R9449-7: ``alg`` is in the allowlist (asymmetric only; HS* and
  ``none`` cannot be configured). R9449-8: ``jwk`` is a public key with no private member, of the
  key type its ``alg`` needs (one key, one algorithm), and the signature verifies with it.
- R9449-9: ``htm`` equals the method, case-sensitively. R9449-10 / R9449-11: ``htu`` equals the
  configured external origin plus the request path after RFC 3986 normalisation
  (:func:`normalize_http_uri`); an ``htu`` with a query or fragment never matches. The origin is
  configuration, never a request header.
- R9449-12: ``iat`` within ``window`` seconds in the past, ``leeway`` in the future.
- R9449-14: ``jti`` at most ``max_jti_length`` characters; only its SHA-256 is stored.
- R9449-15: ``ath`` is the unpadded base64url SHA-256 of the token, compared exactly.
- R9449-16: the proof key's RFC 7638 thumbprint equals the token's ``cnf.jkt``.
- R9449-13: replay last, once everything else holds (a refused proof never fills the store). A
  store that cannot record fails closed (503, the client's proof is not blamed).
- R9449-20 / R9449-21: optional nonces, an HMAC of a time bucket under a shared secret, so every
  worker holding the secret accepts the others' nonces and no nonce table is kept.

Deliberately not checked: ``kid``/``x5c`` in the proof header (the ``jwk`` is the key), and the
proof's ``exp`` (RFC 9449 defines none; ``iat`` bounds the proof).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import threading
from collections.abc import Callable, Iterable
from typing import Protocol
from urllib.parse import quote

from .._core.errors import (
    ConfigurationError,
    InvalidDPoPProof,
    InvalidToken,
    UseDPoPNonce,
    VerifierUnavailable,
)
from .jwks import load_jwk
from .jws import SUPPORTED_ALGORITHMS, parse_compact_jws

#: The algorithms accepted by default (the checklist's fixture): offered in ``algs=``.
DEFAULT_DPOP_ALGORITHMS = ("ES256", "PS256")
#: Library limit on one proof (a proof carries one public key; an RSA-4096 ``jwk`` is ~1 KB).
MAX_PROOF_LENGTH = 8192
#: Library limit on ``jti`` (R9449-14): RFC 9449 suggests 96 random bits; 256 characters is ample.
DEFAULT_MAX_JTI_LENGTH = 256
#: Library limit on the proof window (R9449-12: "seconds to minutes").
MAX_WINDOW = 600

PROOF_MISSING = "DPoP proof missing"
MULTIPLE_PROOFS = "Multiple DPoP proofs"
MALFORMED_PROOF = "Malformed DPoP proof"
BAD_TYP = "DPoP proof typ must be dpop+jwt"
BAD_ALG = "Unsupported DPoP proof algorithm"
BAD_KEY = "Invalid DPoP proof key"
BAD_SIGNATURE = "Invalid DPoP proof signature"
MISSING_CLAIM = "DPoP proof lacks a required claim"
BAD_HTM = "DPoP proof htm does not match the request method"
BAD_HTU = "DPoP proof htu does not match the request URI"
BAD_IAT = "DPoP proof iat is outside the acceptance window"
BAD_JTI = "DPoP proof jti is too long"
BAD_ATH = "DPoP proof ath does not match the access token"
REPLAYED = "DPoP proof replayed"
BAD_BINDING = "Invalid DPoP key binding"
STALE_NONCE = "Resource server requires a fresh nonce in DPoP proof"
REPLAY_DOWN = "The DPoP replay store cannot record proofs; try again later"

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_FORBIDDEN_HEADER = frozenset({"crit", "b64", "zip", "enc"})
_NONCE_LABEL = b"stepup-mfa DPoP nonce\x00"


class ReplayStore(Protocol):
    """Where proof ``jti`` s are remembered. ``add`` records ``key`` until ``expires_at`` and says
    whether it was new; it raises when it cannot record (the proof is then refused)."""

    def add(self, key: str, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` when it is already recorded and still
        live at ``now`` (a replay)."""


class ReplayStoreFull(Exception):
    """The in-memory replay store holds ``maxsize`` live entries: refuse rather than forget."""


class MemoryReplayStore:
    """In-process replay store. Entries live until their proof can no longer be accepted; when
    ``maxsize`` live entries are held, new proofs are refused (an evicted ``jti`` could be
    replayed, so nothing is evicted early). One process only: use
    :class:`~stepup_mfa.integrations.redis.RedisReplayStore` for several workers."""

    def __init__(self, maxsize: int = 100_000) -> None:
        self._entries: dict[str, float] = {}
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def add(self, key: str, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at``; ``False`` when it is still live at ``now``."""
        with self._lock:
            seen = self._entries.get(key)
            if seen is not None and now < seen:
                return False
            if len(self._entries) >= self._maxsize:
                self._entries = {k: v for k, v in self._entries.items() if now < v}
                if len(self._entries) >= self._maxsize:
                    raise ReplayStoreFull
            self._entries[key] = expires_at
            return True

    def __len__(self) -> int:
        return len(self._entries)


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings (``compare_digest`` refuses non-ASCII ``str``)."""
    return hmac.compare_digest(
        a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass")
    )


def b64url_sha256(data: bytes) -> str:
    """Unpadded base64url SHA-256 (``ath``, RFC 7638 thumbprints)."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")


# -- htu: RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based normalisation ----------------------

_DEFAULT_PORTS = {"http": "80", "https": "443"}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
#: Characters a path may carry literally (RFC 3986 §3.3 pchar and "/"); others get encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_REG_NAME = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=]*")


def _normalize_percent(text: str) -> str | None:
    """Decode %XX of unreserved characters, upper-case the hex of the others (§6.2.2.1-2);
    a ``%`` not followed by two hex digits makes the URI unusable."""
    if text.count("%") != len(_PCT.findall(text)):
        return None

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PCT.sub(fix, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result


def _normalize_host(host: str) -> str | None:
    if host.startswith("["):
        if not host.endswith("]"):
            return None
        try:
            return f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            return None
    decoded = _normalize_percent(host)
    if decoded is None or not decoded:
        return None
    if "%" in decoded:
        return None  # only unreserved characters may be percent-encoded in a host here
    if not decoded.isascii():
        try:
            decoded = decoded.encode("idna").decode("ascii")  # IDN → A-labels (RFC 3490)
        except UnicodeError:
            return None
    decoded = decoded.lower()
    if not _REG_NAME.fullmatch(decoded):
        return None
    return decoded


def normalize_http_uri(uri: str) -> str | None:
    """``uri`` (an absolute http(s) URI) in normal form, or ``None`` when it cannot be one.

    Scheme and host in lower case, IDN hosts as A-labels, IPv6 hosts in compressed form, the
    default port dropped, percent-encoding of unreserved characters decoded and other hex
    upper-cased, dot segments removed, an empty path as ``/`` (RFC 3986 §6.2.2, §6.2.3). A query,
    a fragment, userinfo or any scheme other than http/https gives ``None``: such an ``htu`` never
    matches (R9449-10).
    """
    if not isinstance(uri, str) or not uri.isprintable():
        return None
    scheme, sep, rest = uri.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _DEFAULT_PORTS or "?" in rest or "#" in rest:
        return None
    authority, slash, path = rest.partition("/")
    if "@" in authority or any(c in uri for c in " \t\r\n\\"):
        return None
    if authority.startswith("["):
        host, _, port_part = authority.partition("]")
        host += "]"
        if port_part and not port_part.startswith(":"):
            return None
        port = port_part[1:]
    else:
        host, _, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if port and not port.isdigit():
        return None
    if port:
        port = str(int(port))
        if not 0 < int(port) < 65536:
            return None
    normal_host = _normalize_host(host)
    if normal_host is None:
        return None
    if not uri.isascii():
        path = quote(path, safe=_PATH_SAFE)
    normal_path = _normalize_percent("/" + path if slash else "/")
    if normal_path is None:
        return None
    authority = normal_host if port in ("", _DEFAULT_PORTS[scheme]) else f"{normal_host}:{port}"
    return f"{scheme}://{authority}{_remove_dot_segments(normal_path)}"


# -- the checker -----------------------------------------------------------------------------------


class DPoP:
    """The resource server's DPoP settings and proof check (pass it as ``Guard(..., dpop=...)``).

    - ``public_url``: the externally visible origin of the API (``https://api.example.com``,
      optionally with the path prefix it is mounted under), which ``htu`` is compared with. It is
      configuration on purpose: a ``Host`` or ``X-Forwarded-*`` header is the client's to forge.
    - ``algorithms``: the accepted proof algorithms (``algs=`` in challenges).
    - ``window`` (60 s): how old a proof's ``iat`` may be; ``leeway`` (5 s) how far ahead.
    - ``replay``: the ``jti`` store (in memory by default; ``RedisReplayStore`` for many workers).
    - ``nonce_secret``: turn server nonces on (RFC 9449 §9). Workers sharing the secret accept
      each other's nonces; a nonce is valid for one to two ``nonce_lifetime`` periods.
    - ``max_jti_length``: the longest ``jti`` accepted (R9449-14); only its SHA-256 is stored.
    """

    def __init__(
        self,
        public_url: str,
        *,
        algorithms: Iterable[str] = DEFAULT_DPOP_ALGORITHMS,
        window: float = 60.0,
        leeway: float = 5.0,
        replay: ReplayStore | None = None,
        nonce_secret: bytes | None = None,
        nonce_lifetime: float = 300.0,
        max_jti_length: int = DEFAULT_MAX_JTI_LENGTH,
    ) -> None:
        base = normalize_http_uri(public_url) if isinstance(public_url, str) else None
        if base is None:
            raise ConfigurationError("public_url must be an absolute http(s) URL (R9449-11)")
        self.public_url = base.rstrip("/")
        self.algorithms = tuple(dict.fromkeys(algorithms))
        unsupported = [a for a in self.algorithms if a not in SUPPORTED_ALGORITHMS]
        if not self.algorithms or unsupported:
            raise ConfigurationError(
                f"DPoP algorithms must be asymmetric signature algorithms, not {unsupported}"
            )
        if not 0 < window <= MAX_WINDOW or not 0 <= leeway <= window:
            raise ConfigurationError(
                f"window must be in (0, {MAX_WINDOW}] s, leeway in [0, window]"
            )
        if nonce_secret is not None and (
            not isinstance(nonce_secret, bytes) or len(nonce_secret) < 16
        ):
            raise ConfigurationError("nonce_secret must be at least 16 random bytes")
        if not 1 <= nonce_lifetime <= 86_400 or not 16 <= max_jti_length <= 4096:
            raise ConfigurationError("nonce_lifetime or max_jti_length out of range")
        self.window = float(window)
        self.leeway = float(leeway)
        self.replay: ReplayStore = replay if replay is not None else MemoryReplayStore()
        self._nonce_secret = nonce_secret
        self.nonce_lifetime = float(nonce_lifetime)
        self.max_jti_length = max_jti_length
        self._allowed = frozenset(self.algorithms)

    @property
    def nonces(self) -> bool:
        """Whether proofs must carry a server nonce."""
        return self._nonce_secret is not None

    def expected_htu(self, path: str) -> str | None:
        """The normalised URI a proof for a request to ``path`` must name."""
        return normalize_http_uri(self.public_url + quote(path, safe=_PATH_SAFE))

    # -- nonces ----------------------------------------------------------------------------------

    def new_nonce(self, now: float) -> str:
        """The nonce of the time bucket of ``now`` (at least 128 bits of MAC, R9449-20)."""
        return self._nonce_for(int(now // self.nonce_lifetime))

    def _nonce_for(self, bucket: int) -> str:
        assert self._nonce_secret is not None
        counter = bucket.to_bytes(8, "big", signed=True)
        mac = hmac.new(self._nonce_secret, _NONCE_LABEL + counter, hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(counter + mac).rstrip(b"=").decode("ascii")

    def _nonce_valid(self, nonce: object, now: float) -> bool:
        if not isinstance(nonce, str) or len(nonce) != 35:
            return False
        current = int(now // self.nonce_lifetime)
        return any(_same(nonce, self._nonce_for(bucket)) for bucket in (current, current - 1))

    # -- the proof -------------------------------------------------------------------------------

    def check(
        self,
        proofs: tuple[str, ...],
        *,
        method: str,
        path: str,
        token: str,
        jkt: str,
        now: float,
    ) -> None:
        """Check the request's ``DPoP`` lines for ``token`` bound to ``jkt``; raise or return.

        ``proofs`` are the request's ``DPoP`` field lines, ``method`` and ``path`` the request's
        (compared with ``htm`` and ``htu``), ``now`` the time ``iat`` is judged against.

        Raises :class:`InvalidDPoPProof`, :class:`UseDPoPNonce` (with a fresh nonce),
        :class:`InvalidToken` for a key that is not the token's, :class:`VerifierUnavailable`
        when the replay store cannot record.
        """
        thumbprint, replay = self._proof(proofs, method=method, path=path, token=token, now=now)
        if not _same(thumbprint, jkt):
            raise InvalidToken(BAD_BINDING)  # R9449-16
        replay()

    def check_token_request(
        self, proofs: tuple[str, ...], *, method: str, path: str, now: float
    ) -> str:
        """The authorization server's side (RFC 9449 §5): check the proof of a token request and
        return the RFC 7638 thumbprint of its key, which the issued token is bound to.
        ``proofs``, ``method``, ``path`` and ``now`` as for :meth:`check`.

        The same checks as :meth:`check`, except that a token request has no access token, so
        ``ath`` is neither required nor compared. Raises :class:`InvalidDPoPProof`,
        :class:`UseDPoPNonce` or :class:`VerifierUnavailable`.
        """
        thumbprint, replay = self._proof(proofs, method=method, path=path, token=None, now=now)
        replay()
        return thumbprint

    def _proof(
        self, proofs: tuple[str, ...], *, method: str, path: str, token: str | None, now: float
    ) -> tuple[str, Callable[[], None]]:
        """Every check but the binding; the key's thumbprint and the replay step (run last)."""
        if not proofs:
            raise InvalidDPoPProof(PROOF_MISSING)  # R9449-2
        if len(proofs) > 1:
            raise InvalidDPoPProof(MULTIPLE_PROOFS)  # R9449-4
        try:
            jws = parse_compact_jws(proofs[0].strip(" \t"), MAX_PROOF_LENGTH)
        except InvalidToken:
            raise InvalidDPoPProof(MALFORMED_PROOF) from None
        header, claims = jws.header, jws.payload
        typ = header.get("typ")
        if type(typ) is not str or typ.lower() != "dpop+jwt":
            raise InvalidDPoPProof(BAD_TYP)  # R9449-6
        alg = header.get("alg")
        if type(alg) is not str or alg not in self._allowed:
            raise InvalidDPoPProof(BAD_ALG)  # R9449-7
        if _FORBIDDEN_HEADER.intersection(header):
            raise InvalidDPoPProof(MALFORMED_PROOF)
        jwk = header.get("jwk")
        if not isinstance(jwk, dict) or _PRIVATE_MEMBERS.intersection(jwk):
            raise InvalidDPoPProof(BAD_KEY)  # R9449-8: public key only
        key = load_jwk(jwk, frozenset({alg}))
        if key is None:
            raise InvalidDPoPProof(BAD_KEY)
        if not key.verify(alg, jws.signing_input, jws.signature):
            raise InvalidDPoPProof(BAD_SIGNATURE)
        jti, htm, htu, iat, ath = (claims.get(n) for n in ("jti", "htm", "htu", "iat", "ath"))
        if (
            type(jti) is not str
            or not jti
            or type(htm) is not str
            or type(htu) is not str
            or type(iat) not in (int, float)
            or (token is not None and type(ath) is not str)
        ):
            raise InvalidDPoPProof(MISSING_CLAIM)  # R9449-5
        created = float(iat) if isinstance(iat, int | float) else 0.0
        if len(jti) > self.max_jti_length:
            raise InvalidDPoPProof(BAD_JTI)  # R9449-14
        if htm != method:
            raise InvalidDPoPProof(BAD_HTM)  # R9449-9
        expected = self.expected_htu(path)
        if expected is None or normalize_http_uri(htu) != expected:
            raise InvalidDPoPProof(BAD_HTU)  # R9449-10, R9449-11
        if not now - self.window <= created <= now + self.leeway:
            raise InvalidDPoPProof(BAD_IAT)  # R9449-12
        if token is not None and not (
            isinstance(ath, str) and _same(ath, b64url_sha256(token.encode("ascii")))
        ):
            raise InvalidDPoPProof(BAD_ATH)  # R9449-15
        if self._nonce_secret is not None:
            nonce = claims.get("nonce")
            if not self._nonce_valid(nonce, now):  # R9449-20, R9449-21
                raise UseDPoPNonce(
                    None if nonce is None else STALE_NONCE, nonce=self.new_nonce(now)
                )
        replay_key = b64url_sha256(f"{expected}\n{jti}".encode("utf-8", "surrogatepass"))

        def replay() -> None:
            try:
                fresh = self.replay.add(replay_key, created + self.window + 1.0, now)
            except Exception:
                raise VerifierUnavailable(REPLAY_DOWN) from None  # fail closed
            if not fresh:
                raise InvalidDPoPProof(REPLAYED)  # R9449-13

        return key.thumbprint, replay
