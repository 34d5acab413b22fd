"""Signing keys for test and development issuers: one RS256 and one ES256 key, rotatable.

Shared by the token factory and the development authorization server, so that both publish the
same JWKS shape: every key has a ``kid``, ``alg`` and ``use: sig``, the way real issuers publish
them, and the verifier under test must pick the right one by ``kid`` (R9068-14).
"""

from __future__ import annotations

import secrets
import threading
from typing import Any, Literal

from joserfc.jwk import ECKey, KeyParameters, RSAKey

SigningAlgorithm = Literal["RS256", "ES256"]
SIGNING_ALGORITHMS: tuple[SigningAlgorithm, ...] = ("RS256", "ES256")

SigningKey = RSAKey | ECKey


def generate_key(algorithm: SigningAlgorithm, kid: str | None = None) -> SigningKey:
    """A fresh private key for ``algorithm`` with a random ``kid``."""
    parameters: KeyParameters = {
        "kid": kid or secrets.token_urlsafe(8),
        "alg": algorithm,
        "use": "sig",
    }
    if algorithm == "RS256":
        return RSAKey.generate_key(2048, parameters=parameters, private=True)
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters, private=True)
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


class KeyRing:
    """The current signing key per algorithm, plus retired keys still published after a rotation.

    Thread-safe: a development server signs tokens on request threads while a test rotates keys.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[SigningAlgorithm, SigningKey] = {
            algorithm: generate_key(algorithm) for algorithm in SIGNING_ALGORITHMS
        }
        self._retired: list[SigningKey] = []

    def current(self, algorithm: SigningAlgorithm = "RS256") -> SigningKey:
        """The key that signs new tokens with ``algorithm``."""
        with self._lock:
            return self._current[algorithm]

    def rotate(self, *, keep_previous: bool = True) -> None:
        """Replace every signing key with a new one (new ``kid``).

        With ``keep_previous`` the old public keys stay in the JWKS, so tokens signed before the
        rotation still verify (a graceful rotation); without it they disappear at once (a key
        compromise), and those tokens must then be refused.
        """
        fresh = {algorithm: generate_key(algorithm) for algorithm in SIGNING_ALGORITHMS}
        with self._lock:
            if keep_previous:
                self._retired = [*self._current.values(), *self._retired][:4]
            else:
                self._retired = []
            self._current = fresh

    def public_jwks(self) -> dict[str, Any]:
        """The JWKS document to publish: current keys first, then retired ones, no private parts."""
        with self._lock:
            keys = [*self._current.values(), *self._retired]
        return {"keys": [key.as_dict(private=False) for key in keys]}

    def kids(self) -> list[str]:
        """The ``kid`` of every published key."""
        return [str(key["kid"]) for key in self.public_jwks()["keys"]]
