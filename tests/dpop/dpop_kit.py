"""DPoP test kit: a stub verifier and proofs made with joserfc and PyJWT (never with our code)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

import jwt as pyjwt
from joserfc import jwk as jrfc_jwk
from joserfc import jws as jrfc_jws

from stepup_mfa import InvalidToken, Principal, RequestView
from stepup_mfa._verify.flow import Flow

NOW = 1_700_000_000.0
API = "https://api.example.com"
MFA = "urn:example:acr:mfa"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ath_of(token: str) -> str:
    return b64(hashlib.sha256(token.encode()).digest())


class StubVerifier:
    """Tokens are names of principals; the binding comes from the claims given."""

    def __init__(self) -> None:
        self.principals: dict[str, Principal] = {}

    def add(self, token: str, **claims: Any) -> str:
        base = {"sub": "alice", "iss": "https://as.example.com", "scope": "cats:read dogs:read"}
        base.update({"acr": MFA, "auth_time": NOW - 10})
        kind = claims.pop("kind", "jwt")
        base.update(claims)
        self.principals[token] = Principal.from_claims(base, kind=kind)
        return token

    def cached(self, token: str, now: float, max_cache_age: int | None = None) -> Principal | None:
        return self.principals.get(token)

    def verify(self, token: str, now: float) -> Flow[Principal]:
        principal = self.principals.get(token)
        if principal is None:
            raise InvalidToken()
        return principal
        yield  # a generator that never asks for I/O


class Client:
    """A DPoP client: one key, proofs signed with joserfc (EC/RSA) or PyJWT."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        if alg.startswith("ES"):
            self.key: Any = jrfc_jwk.ECKey.generate_key({"ES256": "P-256", "ES384": "P-384"}[alg])
        elif alg == "EdDSA":
            self.key = jrfc_jwk.OKPKey.generate_key("Ed25519")
        else:
            self.key = jrfc_jwk.RSAKey.generate_key(2048)
        self.public_jwk: dict[str, Any] = self.key.as_dict(private=False)
        for member in ("kid", "use", "key_ops", "alg"):
            self.public_jwk.pop(member, None)

    @property
    def jkt(self) -> str:
        members = {
            "RSA": ("e", "kty", "n"),
            "EC": ("crv", "kty", "x", "y"),
            "OKP": ("crv", "kty", "x"),
        }
        jwk = {k: self.public_jwk[k] for k in members[self.public_jwk["kty"]]}
        return b64(
            hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode()).digest()
        )

    def proof(
        self,
        token: str | None,
        method: str = "GET",
        url: str = f"{API}/cats/",
        *,
        iat: float = NOW,
        header: Mapping[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        sign_with: Any = None,
        **claims: Any,
    ) -> str:
        payload: dict[str, Any] = {
            "jti": str(uuid.uuid4()),
            "htm": method,
            "htu": url,
            "iat": int(iat),
        }
        if token is not None:
            payload["ath"] = ath_of(token)
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        protected = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public_jwk}
        protected.update(header or {})
        key = sign_with if sign_with is not None else self.key
        return jrfc_jws.serialize_compact(
            protected, json.dumps(payload).encode(), key, algorithms=[protected["alg"]]
        )


def pyjwt_proof(
    private_key: Any, public_jwk: Mapping[str, Any], alg: str, token: str, **claims: Any
) -> str:
    payload = {"jti": str(uuid.uuid4()), "htm": "GET", "htu": f"{API}/cats/", "iat": int(NOW)}
    payload["ath"] = ath_of(token)
    payload.update(claims)
    return pyjwt.encode(
        payload, private_key, algorithm=alg, headers={"typ": "dpop+jwt", "jwk": dict(public_jwk)}
    )


def view(
    token: str | None = None,
    proofs: tuple[str, ...] = (),
    *,
    scheme: str = "DPoP",
    method: str = "GET",
    path: str = "/cats/",
    query: str = "",
    authorization: tuple[str, ...] | None = None,
) -> RequestView:
    lines = (
        authorization if authorization is not None else ((f"{scheme} {token}",) if token else ())
    )
    return RequestView(method, path, lines, query, scheme="https", dpop=proofs)
