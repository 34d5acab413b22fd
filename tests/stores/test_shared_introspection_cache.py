"""Several workers share introspection answers through Redis: one call serves them all.

Each "worker" is its own IntrospectionVerifier (as in separate processes), talking to a real
introspection endpoint on 127.0.0.1 and a real redis-server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from tests.verify.introspection_fixtures import (
    AUDIENCE,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    NOW,
    PATH,
    IntrospectionStub,
    active,
)

from stepup_mfa._core.decision import evaluate
from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._core.policy import Policy
from stepup_mfa._verify.cache import token_key
from stepup_mfa._verify.flow import run_sync
from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
from stepup_mfa._verify.transports import HttpxTransport
from stepup_mfa.integrations.redis import INTROSPECTION_CODEC, RedisStore, TieredStore
from stepup_mfa.testing.server import LocalHTTPServer

MFA_60S = Policy(acr_values=["urn:example:acr:mfa"], max_age=60)


@pytest.fixture
def stub() -> Iterator[IntrospectionStub]:
    with LocalHTTPServer(poll_interval=0.05) as server:
        endpoint = IntrospectionStub(server)
        server.routes[PATH] = endpoint
        yield endpoint


@pytest.fixture
def transport() -> Iterator[HttpxTransport]:
    transport = HttpxTransport()
    yield transport
    transport.close()


def worker(stub: IntrospectionStub, client: redis.Redis) -> IntrospectionVerifier:
    store = TieredStore(RedisStore(client, codec=INTROSPECTION_CODEC, clock=lambda: NOW))
    return IntrospectionVerifier(
        stub.endpoint,
        client_auth=ClientSecretBasic(CLIENT_ID, CLIENT_SECRET),
        issuer=ISSUER,
        audience=AUDIENCE,
        store=store,  # type: ignore[arg-type]
    )


def test_R7662_8_one_introspection_serves_every_worker(
    stub: IntrospectionStub, redis_client: redis.Redis, transport: HttpxTransport
) -> None:
    stub.answers["opaque-1"] = active()
    workers = [worker(stub, redis_client) for _ in range(4)]
    first = run_sync(workers[0].verify("opaque-1", NOW), transport)
    assert first.subject == "u1"
    for other in workers[1:]:
        principal = other.cached("opaque-1", NOW + 1)
        assert principal is not None and principal.acr == "urn:example:acr:mfa"
    assert stub.calls == 1


def test_R7662_11_redis_holds_token_digests_never_tokens(
    stub: IntrospectionStub, redis_client: redis.Redis, transport: HttpxTransport
) -> None:
    stub.answers["opaque-secret-token"] = active()
    verifier = worker(stub, redis_client)
    run_sync(verifier.verify("opaque-secret-token", NOW), transport)
    keys = [key.decode() for key in redis_client.keys("*")]
    assert keys == ["stepup-mfa:" + token_key("opaque-secret-token", verifier.namespace)]
    assert b"opaque-secret-token" not in redis_client.get(keys[0])  # type: ignore[operator]


def test_R9470_9_a_shared_answer_never_stretches_the_mfa_window(
    stub: IntrospectionStub, redis_client: redis.Redis, transport: HttpxTransport
) -> None:
    stub.answers["opaque-1"] = active(auth_time=NOW - 30)
    run_sync(worker(stub, redis_client).verify("opaque-1", NOW), transport)
    other = worker(stub, redis_client)
    fresh = other.cached("opaque-1", NOW + 30)
    assert fresh is not None and evaluate(fresh, MFA_60S, NOW + 30).allowed
    stale = other.cached("opaque-1", NOW + 31)
    assert stale is not None and not evaluate(stale, MFA_60S, NOW + 31).allowed


def test_an_inactive_answer_is_shared_as_a_refusal(
    stub: IntrospectionStub, redis_client: redis.Redis, transport: HttpxTransport
) -> None:
    with pytest.raises(InvalidToken):
        run_sync(worker(stub, redis_client).verify("junk", NOW), transport)
    with pytest.raises(InvalidToken):
        worker(stub, redis_client).cached("junk", NOW + 1)
    assert stub.calls == 1
