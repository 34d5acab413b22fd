"""Two differently configured verifiers on one real redis-server never share answers (STORE-1).

Before the fix, keys were the token's SHA-256 alone: API B reused API A's "active" answer for a
token the authorization server would refuse to B (without asking it), a refusal cached by A
blocked a valid token at B, and a JWT verified by a lenient verifier (untyped tokens, fewer
required claims) was a cache hit for a strict one. Keys are now namespaced by each verifier's
configuration: a hit recorded under another configuration is a miss.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from tests.verify.introspection_fixtures import (
    CLIENT_SECRET,
    ISSUER,
    NOW,
    PATH,
    IntrospectionStub,
    active,
)

from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._verify.cache import MemoryStore
from stepup_mfa._verify.flow import run_sync
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.jwt_verifier import JWTVerifier
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.integrations.redis import (
    INTROSPECTION_CODEC,
    JWT_CODEC,
    RedisStore,
    TieredStore,
)
from stepup_mfa.testing import FakeIssuer, FrozenClock
from stepup_mfa.testing.server import LocalHTTPServer

API_A = "https://billing.example.com"
API_B = "https://cats.example.com"


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    transport = HttpxTransport()
    yield transport
    transport.close()


@pytest.fixture
def stubs() -> Iterator[tuple[IntrospectionStub, IntrospectionStub]]:
    """The authorization server as API A's client and as API B's client see it."""
    with LocalHTTPServer(poll_interval=0.05) as a, LocalHTTPServer(poll_interval=0.05) as b:
        stub_a = IntrospectionStub(a, client_id="api-a")
        stub_b = IntrospectionStub(b, client_id="api-b")
        a.routes[PATH] = stub_a
        b.routes[PATH] = stub_b
        yield stub_a, stub_b


def introspecting(
    stub: IntrospectionStub, client: redis.Redis, audience: str
) -> IntrospectionVerifier:
    store = TieredStore(RedisStore(client, codec=INTROSPECTION_CODEC, clock=lambda: NOW))
    return IntrospectionVerifier(
        stub.endpoint,
        client_auth=ClientSecretBasic(stub.client_id, CLIENT_SECRET),
        issuer=ISSUER,
        audience=audience,
        store=store,  # type: ignore[arg-type]
    )


def test_STORE_1_R7662_7_an_active_answer_for_api_a_is_a_miss_for_api_b(
    stubs: tuple[IntrospectionStub, IntrospectionStub],
    redis_client: redis.Redis,
    transport: HttpxTransport,
) -> None:
    """The AS says active to A (no ``aud`` in the answer) and inactive to B: B must ask."""
    stub_a, stub_b = stubs
    stub_a.answers["shared-token"] = {k: v for k, v in active().items() if k != "aud"}
    a = introspecting(stub_a, redis_client, API_A)
    b = introspecting(stub_b, redis_client, API_B)
    assert run_sync(a.verify("shared-token", NOW), transport).subject == "u1"
    assert b.cached("shared-token", NOW + 1) is None
    with pytest.raises(InvalidToken, match="not active"):
        run_sync(b.verify("shared-token", NOW + 1), transport)
    assert (stub_a.calls, stub_b.calls) == (1, 1)
    # And A still hits its own entry.
    assert a.cached("shared-token", NOW + 2) is not None


def test_STORE_1_a_refusal_cached_by_api_a_never_blocks_api_b(
    stubs: tuple[IntrospectionStub, IntrospectionStub],
    redis_client: redis.Redis,
    transport: HttpxTransport,
) -> None:
    stub_a, stub_b = stubs
    stub_b.answers["b-token"] = {k: v for k, v in active().items() if k != "aud"}
    a = introspecting(stub_a, redis_client, API_A)
    b = introspecting(stub_b, redis_client, API_B)
    with pytest.raises(InvalidToken):
        run_sync(a.verify("b-token", NOW), transport)  # inactive for A, and cached as such
    assert b.cached("b-token", NOW + 1) is None
    assert run_sync(b.verify("b-token", NOW + 1), transport).subject == "u1"


def test_STORE_1_same_configuration_still_shares_one_answer(
    stubs: tuple[IntrospectionStub, IntrospectionStub],
    redis_client: redis.Redis,
    transport: HttpxTransport,
) -> None:
    """Namespacing keeps the point of a shared store: equal workers share (R7662-8)."""
    stub_a, _ = stubs
    stub_a.answers["t"] = active(aud=API_A)
    first, second = (introspecting(stub_a, redis_client, API_A) for _ in range(2))
    assert first.namespace == second.namespace
    run_sync(first.verify("t", NOW), transport)
    assert second.cached("t", NOW + 1) is not None
    assert stub_a.calls == 1


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000)


@pytest.fixture
def issuer(clock: FrozenClock) -> Iterator[FakeIssuer]:
    with FakeIssuer([API_A, API_B], clock=clock) as issuer:
        yield issuer


def _jwt_verifiers(issuer: FakeIssuer, store: Any) -> tuple[JWTVerifier, JWTVerifier]:
    strict = JWTVerifier(issuer.issuer, [API_A, API_B], cache=store)
    lenient = JWTVerifier(
        issuer.issuer,
        [API_A, API_B],
        cache=store,
        accept_jwt_typ=True,
        required_claims=("iss", "aud", "exp"),
        leeway=300,
    )
    return strict, lenient


@pytest.mark.parametrize("shared", ["redis", "memory"])
def test_STORE_1_H3_T5_a_lenient_verifiers_hit_is_a_miss_for_a_strict_one(
    issuer: FakeIssuer,
    clock: FrozenClock,
    redis_client: redis.Redis,
    transport: HttpxTransport,
    shared: str,
) -> None:
    """An untyped token without ``jti`` and with an ``auth_time`` 200 s ahead: the lenient verifier
    accepts and caches it; the strict one must not find it, and refuses it itself."""
    store: Any = (
        TieredStore(RedisStore(redis_client, codec=JWT_CODEC, clock=clock))
        if shared == "redis"
        else MemoryStore()
    )
    strict, lenient = _jwt_verifiers(issuer, store)
    now = clock()
    run_sync(strict.startup_flow(now), transport)  # the strict one has the keys, too
    token = issuer.tokens.mint(header={"typ": "JWT"}, omit=("jti",), auth_time=now + 200)
    assert run_sync(lenient.verify(token, now), transport).subject == "user-1"
    assert lenient.cached(token, now + 1) is not None
    assert strict.namespace != lenient.namespace
    assert strict.cached(token, now + 1) is None
    with pytest.raises(InvalidToken):
        run_sync(strict.verify(token, now + 1), transport)


def test_STORE_1_OIDC_4_a_jwt_shared_through_redis_keeps_its_settled_auth_time(
    issuer: FakeIssuer, clock: FrozenClock, redis_client: redis.Redis, transport: HttpxTransport
) -> None:
    """Worker 2 reads worker 1's entry: the auth_time that was ahead counts as the moment worker 1
    verified it (the codec carries ``verified_at``), so the MFA window is the same everywhere."""
    now = clock()
    workers = [
        JWTVerifier(
            issuer.issuer,
            [API_A, API_B],
            cache=TieredStore(RedisStore(redis_client, codec=JWT_CODEC, clock=clock)),
        )
        for _ in range(2)
    ]
    token = issuer.tokens.mfa_token(auth_time=now + 30)
    run_sync(workers[0].verify(token, now), transport)
    run_sync(workers[1].startup_flow(now), transport)  # worker 2 has the keys, not the token
    hit = workers[1].cached(token, now + 1)
    assert hit is not None and hit.auth_time == now
