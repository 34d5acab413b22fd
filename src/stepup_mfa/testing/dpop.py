"""A DPoP client key for tests and demos: proofs (RFC 9449 §4) and the thumbprint tokens bind to.

The proofs are signed with joserfc, not with the library's verifier code, so a test that checks
them with :class:`~stepup_mfa.DPoP` exercises two independent implementations::

    key = DPoPKey()
    token = stepup_tokens.mint(bound_to=key)                # cnf.jkt = key.jkt
    headers = key.headers("GET", "https://api.example.com/cats/", token)
    # {"Authorization": "DPoP <token>", "DPoP": "<proof>"}
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal

from joserfc import jws
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, OKPKey, RSAKey

DPoPAlgorithm = Literal["ES256", "ES384", "PS256", "RS256", "EdDSA"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DPoPKey:
    """One client key pair (ES256 by default) that signs DPoP proofs.

    ``algorithm`` is the signing algorithm, and the key type that goes with it.

    ``clock`` gives ``iat`` (pass the test's :class:`~stepup_mfa.testing.FrozenClock`).
    ``jwk`` is the public key as the proof header carries it; ``jkt`` its RFC 7638 thumbprint,
    the ``cnf.jkt`` of a token bound to this key.
    """

    def __init__(
        self, algorithm: DPoPAlgorithm = "ES256", *, clock: Callable[[], float] = time.time
    ) -> None:
        self.algorithm: DPoPAlgorithm = algorithm
        self.clock = clock
        self._key: ECKey | OKPKey | RSAKey
        if algorithm == "ES256":
            self._key = ECKey.generate_key("P-256", private=True)
        elif algorithm == "ES384":
            self._key = ECKey.generate_key("P-384", private=True)
        elif algorithm == "EdDSA":
            self._key = OKPKey.generate_key("Ed25519", private=True)
        elif algorithm in ("PS256", "RS256"):
            self._key = RSAKey.generate_key(2048, private=True)
        else:
            raise ValueError(f"unsupported DPoP algorithm {algorithm!r}")
        public = self._key.as_dict(private=False)
        self.jwk: dict[str, Any] = {
            name: value
            for name, value in public.items()
            if name not in ("kid", "use", "key_ops", "alg")
        }

    @property
    def jkt(self) -> str:
        """The RFC 7638 thumbprint (SHA-256, base64url) of the public key."""
        return str(self._key.thumbprint())  # joserfc: SHA-256 over the required members

    def proof(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        claims: Mapping[str, Any] | None = None,
        header: Mapping[str, Any] | None = None,
    ) -> str:
        """A proof for ``method`` ``url``; with ``token`` it carries ``ath`` (resource requests),
        without it none (token requests). ``nonce`` is the server nonce to include; ``iat`` and
        ``jti`` replace the clock's time and the fresh random id. ``claims``/``header`` override
        or add members; a ``None`` value removes one (for "refuse a proof without ``jti``"
        tests)."""
        payload: dict[str, Any] = {
            "jti": jti if jti is not None else secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(self.clock() if iat is None else iat),
        }
        if token is not None:
            payload["ath"] = _b64url(hashlib.sha256(token.encode("ascii")).digest())
        if nonce is not None:
            payload["nonce"] = nonce
        protected: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.algorithm, "jwk": self.jwk}
        for target, changes in ((payload, claims), (protected, header)):
            for name, value in (changes or {}).items():
                if value is None:
                    target.pop(name, None)
                else:
                    target[name] = value
        with warnings.catch_warnings():
            # joserfc warns that RFC 9864 deprecates the name "EdDSA"; RFC 9449 peers use it.
            warnings.simplefilter("ignore", SecurityWarning)
            return jws.serialize_compact(
                protected,
                json.dumps(payload, separators=(",", ":")).encode(),
                self._key,
                algorithms=[str(protected["alg"])],
            )

    def headers(
        self, method: str, url: str, token: str, *, nonce: str | None = None
    ) -> dict[str, str]:
        """``Authorization: DPoP <token>`` and a fresh ``DPoP`` proof for one request: ``method``
        to ``url`` with ``token``, carrying ``nonce`` when given."""
        return {
            "Authorization": f"DPoP {token}",
            "DPoP": self.proof(method, url, token=token, nonce=nonce),
        }


def jkt_of(bound_to: DPoPKey | str) -> str:
    """The thumbprint a ``bound_to=`` argument names (a key, or a thumbprint given as is)."""
    return bound_to.jkt if isinstance(bound_to, DPoPKey) else bound_to
