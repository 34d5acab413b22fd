"""R9449-13 / D1 across workers: two Guards sharing one real redis-server accept a proof once."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Generator
from typing import Any

import pytest
import redis
from joserfc import jwk, jws

from stepup_mfa import DPoP, Guard, InvalidToken, Policy, Principal, RequestView
from stepup_mfa.integrations.redis import RedisReplayStore

NOW = 1_700_000_000.0
API = "https://api.example.com"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Stub:
    def __init__(self, jkt: str) -> None:
        self.principal = Principal.from_claims({"sub": "alice", "cnf": {"jkt": jkt}})

    def cached(self, token: str, now: float, max_cache_age: int | None = None) -> Principal | None:
        return self.principal if token == "bound" else None

    def verify(self, token: str, now: float) -> Generator[Any, Any, Principal]:
        raise InvalidToken()
        yield


@pytest.fixture
def key() -> jwk.ECKey:
    return jwk.ECKey.generate_key("P-256")


def proof(key: jwk.ECKey) -> str:
    public = {k: v for k, v in key.as_dict(private=False).items() if k in ("kty", "crv", "x", "y")}
    claims = {
        "jti": str(uuid.uuid4()),
        "htm": "GET",
        "htu": f"{API}/dogs/",
        "iat": int(NOW),
        "ath": b64(hashlib.sha256(b"bound").digest()),
    }
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public}
    return jws.serialize_compact(header, json.dumps(claims).encode(), key, algorithms=["ES256"])


def request(p: str) -> RequestView:
    return RequestView("GET", "/dogs/", ("DPoP bound",), scheme="https", dpop=(p,))


def test_R9449_13_D1_replay_refused_across_two_workers(
    redis_client: redis.Redis, key: jwk.ECKey
) -> None:
    workers = [
        Guard(
            Stub(key.thumbprint()),
            clock=lambda: NOW,
            dpop=DPoP(API, replay=RedisReplayStore(redis_client)),
        )
        for _ in range(2)
    ]
    p = proof(key)
    assert workers[0].check(request(p), Policy()).allowed
    second = workers[1].check(request(p), Policy())
    assert not second.allowed and second.error.code == "invalid_dpop_proof"
    assert workers[1].check(request(proof(key)), Policy()).allowed  # a new jti is fine
    ttls = [redis_client.pttl(k) for k in redis_client.scan_iter("stepup-mfa:dpop-jti:*")]
    assert ttls and all(0 < t <= 61_000 for t in ttls)


def test_R9449_13_unreachable_redis_fails_closed(key: jwk.ECKey) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    guard = Guard(
        Stub(key.thumbprint()), clock=lambda: NOW, dpop=DPoP(API, replay=RedisReplayStore(dead))
    )
    decision = guard.check(request(proof(key)), Policy())
    assert not decision.allowed and decision.status == 503
