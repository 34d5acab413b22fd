"""JWK Set loading (RFC 7517/7518 checks) and the JWKS / verified-token caches."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from verify_helpers import self_signed_b64

from stepup_mfa._core.errors import InvalidToken, VerifierUnavailable
from stepup_mfa._verify.cache import MemoryStore, token_key
from stepup_mfa._verify.flow import run_async
from stepup_mfa._verify.jwks import MAX_KEYS, load_jwk_set
from stepup_mfa._verify.jws import SUPPORTED_ALGORITHMS
from stepup_mfa._verify.strict_json import loads_json_marking_duplicates
from stepup_mfa._verify.transports import AsyncHttpxTransport

NOW = 1_900_000_000
ALL = SUPPORTED_ALGORITHMS


# -- loading --------------------------------------------------------------------------------------


def test_R7517_1_unknown_kty_skipped_not_fatal(issuer_server: Any) -> None:
    good = issuer_server.keys[0].public_jwk()
    key_set = load_jwk_set({"keys": [{"kty": "XYZ"}, good]}, ALL)
    assert [k.kid for k in key_set.keys] == ["default"]
    assert key_set.skipped == 1


@pytest.mark.parametrize(
    "damage",
    [
        {"e": None},
        {"n": 7},
        {"n": "!!!"},
        {"kid": 12},
        {"alg": ["RS256"]},
        {"kty": "oct", "k": "c2VjcmV0"},
        {"d": "cHJpdmF0ZQ"},
        {"key_ops": "verify"},
        {"key_ops": ["verify", "verify"]},
    ],
    ids=[
        "missing-e",
        "n-not-string",
        "n-not-base64",
        "kid-number",
        "alg-array",
        "oct",
        "private-member",
        "key_ops-not-list",
        "key_ops-repeated",
    ],
)
def test_R7517_1_malformed_entries_skipped(damage: dict[str, Any], issuer_server: Any) -> None:
    good = issuer_server.keys[0].public_jwk()
    bad = {**good, **damage}
    bad = {k: v for k, v in bad.items() if v is not None}
    key_set = load_jwk_set({"keys": [bad, {**good, "kid": "other"}]}, ALL)
    assert [k.kid for k in key_set.keys] == ["other"]


def test_R7517_1_jwks_with_bad_entry_still_verifies_end_to_end(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    issuer_server.raw_entries[:] = [{"kty": "XYZ"}, {"kty": "EC", "crv": "P-256"}, "junk", 7]
    assert check(verifier, issuer_server.mint()).subject == "user-1"


def test_R7517_4_jwk_with_duplicate_members_ignored(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    good = issuer_server.keys[0].public_jwk()
    duplicated = json.dumps({**good, "kid": "dup"})[:-1] + ', "n": "' + good["n"] + '"}'
    issuer_server.jwks_body = ('{"keys": [' + duplicated + ", " + json.dumps(good) + "]}").encode()
    document = loads_json_marking_duplicates(issuer_server.jwks_body)
    assert [k.kid for k in load_jwk_set(document, ALL).keys] == ["default"]
    dup_key = issuer_server.new_key("RS256", kid="dup", publish=False)
    dup_key.private = issuer_server.keys[0].private
    with pytest.raises(InvalidToken):
        check(verifier, issuer_server.mint(dup_key))
    assert check(verifier, issuer_server.mint()).subject == "user-1"


def test_R7517_5_x5c_holding_another_key_ignored(issuer_server: Any) -> None:
    key = issuer_server.keys[0]
    other = issuer_server.new_key("RS256", kid="other", publish=False)
    mismatched = {**key.public_jwk(), "x5c": [self_signed_b64(other.private, "as.example.com", 7)]}
    matching = {
        **key.public_jwk(),
        "kid": "ok",
        "x5c": [self_signed_b64(key.private, "as.example.com", 7)],
    }
    garbage = {**key.public_jwk(), "kid": "garbage", "x5c": ["not base64!"]}
    key_set = load_jwk_set({"keys": [mismatched, matching, garbage]}, ALL)
    assert [k.kid for k in key_set.keys] == ["ok"]


@pytest.mark.parametrize(
    ("marking", "usable"),
    [
        ({}, True),
        ({"use": "sig"}, True),
        ({"use": None, "key_ops": ["verify"]}, True),
        ({"use": "sig", "key_ops": ["sign", "verify"]}, True),
        ({"use": "enc"}, False),
        ({"use": None, "key_ops": ["encrypt"]}, False),
        ({"use": "sig", "key_ops": ["wrapKey"]}, False),
        ({"use": "SIG"}, False),
    ],
    ids=repr,
)
def test_R7517_2_use_and_key_ops(marking: dict[str, Any], usable: bool, issuer_server: Any) -> None:
    jwk = {**issuer_server.keys[0].public_jwk(), **marking}
    jwk = {k: v for k, v in jwk.items() if v is not None}
    assert bool(load_jwk_set({"keys": [jwk]}, ALL).keys) is usable


def test_R7517_3_jwk_alg_must_equal_token_alg(
    issuer_server: Any, verifier: Any, check: Any
) -> None:
    key = issuer_server.new_key("ES256", kid="ec", jwk={"alg": "ES256"})
    token = issuer_server.sign_raw(
        issuer_server.header(key, alg="ES384"), issuer_server.claims(), key
    )
    with pytest.raises(InvalidToken):
        check(verifier, token)


@pytest.mark.parametrize(
    ("alg", "jwk_alg"),
    [
        ("ES256", "ES384"),
        ("ES384", "ES256"),
        ("RS256", "ES256"),
        ("ES256", "RS256"),
        ("RS256", "HS256"),
    ],
)
def test_R7518_5_R8725_2_jwk_alg_inconsistent_with_key_type_dropped(
    alg: str, jwk_alg: str, issuer_server: Any
) -> None:
    key = issuer_server.new_key(alg, kid="k", jwk={"alg": jwk_alg}, publish=False)
    assert load_jwk_set({"keys": [key.public_jwk()]}, ALL).keys == ()


def test_R8725_3_jwk_alg_pins_one_algorithm(issuer_server: Any) -> None:
    key = issuer_server.new_key("RS256", kid="k", jwk={"alg": "PS384"}, publish=False)
    (loaded,) = load_jwk_set({"keys": [key.public_jwk()]}, ALL).keys
    assert loaded.algorithms == {"PS384"}


def test_R7518_5_ec_key_serves_its_curves_one_algorithm(issuer_server: Any) -> None:
    key = issuer_server.new_key("ES384", kid="k", publish=False)
    (loaded,) = load_jwk_set({"keys": [key.public_jwk()]}, ALL).keys
    assert loaded.algorithms == {"ES384"}


def test_R7518_3_rsa_1024_dropped_at_load(issuer_server: Any) -> None:
    weak = issuer_server.new_key("RS256", kid="weak", publish=False)
    weak.private = issuer_server.pool.rsa_1024
    assert load_jwk_set({"keys": [weak.public_jwk()]}, ALL).keys == ()


def test_R8725_6_ec_point_off_curve_dropped_at_load(issuer_server: Any) -> None:
    jwk = issuer_server.new_key("ES256", kid="k", publish=False).public_jwk()
    jwk["x"] = jwk["y"]
    assert load_jwk_set({"keys": [jwk]}, ALL).keys == ()


def test_allowlist_limits_loaded_algorithms(issuer_server: Any) -> None:
    ec_key = issuer_server.new_key("ES256", kid="ec", publish=False)
    document = {"keys": [issuer_server.keys[0].public_jwk(), ec_key.public_jwk()]}
    (loaded,) = load_jwk_set(document, frozenset({"RS256"})).keys
    assert loaded.kid == "default" and loaded.algorithms == {"RS256"}


@pytest.mark.parametrize("document", [[], {"keys": {}}, {"keys": "x"}, {}, "keys"], ids=repr)
def test_not_a_jwk_set_raises_value_error(document: Any) -> None:
    with pytest.raises(ValueError):
        load_jwk_set(document, ALL)


def test_jwks_size_is_bounded(issuer_server: Any) -> None:
    jwk = issuer_server.keys[0].public_jwk()
    key_set = load_jwk_set({"keys": [jwk] * (MAX_KEYS + 50)}, ALL)
    assert len(key_set.keys) == MAX_KEYS and key_set.skipped == 50


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>", "text/html"),
        (b'{"keys": [] ', "application/json"),
        (b'{"keys": 1}', "application/json"),
        (b'{"keys": [], "keys": []}', "application/json"),
        (b'{"keys": []}', "text/plain"),
    ],
    ids=["html", "truncated", "keys-not-list", "duplicate-keys", "wrong-type"],
)
def test_R8414_2_unusable_jwks_document_gives_503(
    body: bytes, content_type: str, issuer_server: Any, verifier: Any, check: Any
) -> None:
    issuer_server.jwks_body = body
    issuer_server.jwks_headers = {"Content-Type": content_type}
    with pytest.raises(VerifierUnavailable):
        check(verifier, issuer_server.mint())


def test_jwk_set_media_type_accepted(issuer_server: Any, verifier: Any, check: Any) -> None:
    issuer_server.jwks_headers = {"Content-Type": "application/jwk-set+json; charset=utf-8"}
    assert check(verifier, issuer_server.mint()).subject == "user-1"


# -- JWKS cache lifetime --------------------------------------------------------------------------


def _long_lived(issuer_server: Any, n: int) -> str:
    return issuer_server.mint(claims=issuer_server.claims(exp=NOW + 100_000, jti=f"t{n}"))


@pytest.mark.parametrize(
    ("cache_control", "lifetime"),
    [
        (None, 600),
        ("max-age=120", 120),
        ("public, max-age=300, must-revalidate", 300),
        ("max-age=1", 60),
        ("no-store", 60),
        ("max-age=999999999", 86_400),
        ("max-age=abc", 600),
    ],
    ids=repr,
)
def test_jwks_cache_honours_max_age_within_floor_and_ceiling(
    cache_control: str | None, lifetime: int, issuer_server: Any, verifier: Any, run: Any
) -> None:
    if cache_control:
        issuer_server.jwks_headers["Cache-Control"] = cache_control
    run(verifier.verify(_long_lived(issuer_server, 0), NOW))
    run(verifier.verify(_long_lived(issuer_server, 1), NOW + lifetime - 1))
    assert issuer_server.jwks_fetches == 1
    run(verifier.verify(_long_lived(issuer_server, 2), NOW + lifetime))
    assert issuer_server.jwks_fetches == 2


def test_R7515_4_new_kid_triggers_one_refresh_and_verifies(
    issuer_server: Any, verifier: Any, check: Any, run: Any
) -> None:
    run(verifier.startup_flow(NOW))
    rotated = issuer_server.new_key("RS256", kid="rotated-in")
    assert check(verifier, issuer_server.mint(rotated), NOW + 1).subject == "user-1"
    assert issuer_server.jwks_fetches == 2


def test_R7515_4_unknown_kid_refresh_allowed_again_after_cooldown(
    issuer_server: Any, make_verifier: Any, check: Any, run: Any
) -> None:
    verifier = make_verifier(unknown_kid_cooldown=30)
    run(verifier.startup_flow(NOW))
    early = issuer_server.new_key("RS256", kid="early", publish=False)
    with pytest.raises(InvalidToken):
        check(verifier, issuer_server.mint(early), NOW + 1)
    issuer_server.keys.append(early)  # published later
    with pytest.raises(InvalidToken):  # within the cooldown: remembered as unknown
        check(verifier, issuer_server.mint(early), NOW + 20)
    assert issuer_server.jwks_fetches == 2
    assert check(verifier, issuer_server.mint(early), NOW + 31).subject == "user-1"
    assert issuer_server.jwks_fetches == 3


def test_retired_key_drops_its_cached_tokens(
    issuer_server: Any, verifier: Any, check: Any, run: Any
) -> None:
    old = issuer_server.keys[0]
    new = issuer_server.new_key("RS256", kid="new")
    token = _long_lived(issuer_server, 0)
    check(verifier, token)
    assert verifier.cached(token, NOW + 1) is not None
    issuer_server.retire(old)
    fresh = issuer_server.mint(new, claims=issuer_server.claims(exp=NOW + 1000))
    check(verifier, fresh, NOW + 700)  # max-age passed: keys refreshed
    assert verifier.cached(token, NOW + 701) is None
    with pytest.raises(InvalidToken):
        run(verifier.verify(token, NOW + 701))


# -- outages --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["500", "garbage", "close", "hang"])
def test_R8414_2_outage_with_cached_keys_serves_last_good_keys(
    fault: str, issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    verifier = make_verifier(timeout=0.3, stale_keys_grace=3600)
    check(verifier, _long_lived(issuer_server, 0))
    issuer_server.server.fault = fault
    for n in range(1, 6):  # keys are past max-age: every token still verifies
        at = NOW + 700 + n
        assert check(verifier, _long_lived(issuer_server, n), at).subject == "user-1"
    # 1 load + 1 failed refresh at +701 + 1 retry at +706 (retry_interval 5): not one per request
    assert issuer_server.jwks_fetches <= 3


def test_outage_longer_than_the_grace_period_fails_closed(
    issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    verifier = make_verifier(stale_keys_grace=100)
    check(verifier, _long_lived(issuer_server, 0))
    issuer_server.server.fault = "500"
    assert check(verifier, _long_lived(issuer_server, 1), NOW + 650).subject == "user-1"
    with pytest.raises(VerifierUnavailable):
        check(verifier, _long_lived(issuer_server, 2), NOW + 701)
    token = _long_lived(issuer_server, 3)
    with pytest.raises(VerifierUnavailable):  # cached tokens are not served past it either
        check(verifier, token, NOW + 702)


@pytest.mark.parametrize("fault", ["500", "garbage", "close", "hang"])
def test_R8414_2_outage_without_keys_is_503_and_backs_off(
    fault: str, issuer_server: Any, make_verifier: Any, check: Any
) -> None:
    verifier = make_verifier(timeout=0.3, retry_interval=5)
    issuer_server.server.fault = fault
    with pytest.raises(VerifierUnavailable) as caught:
        check(verifier, issuer_server.mint())
    assert caught.value.status == 503
    contacts = issuer_server.server.count()
    with pytest.raises(VerifierUnavailable):
        check(verifier, issuer_server.mint(), NOW + 1)
    assert issuer_server.server.count() == contacts  # within retry_interval: no new attempt
    issuer_server.server.fault = None
    assert check(verifier, issuer_server.mint(), NOW + 6).subject == "user-1"


def test_closed_port_is_503(issuer_server: Any, make_verifier: Any, check: Any) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = make_verifier(jwks_uri=f"http://127.0.0.1:{port}/jwks.json")
    with pytest.raises(VerifierUnavailable):
        check(verifier, issuer_server.mint())


def test_startup_flow_loads_keys_so_requests_do_not_wait(
    issuer_server: Any, verifier: Any, run: Any
) -> None:
    run(verifier.startup_flow(NOW))
    flow = verifier.verify(issuer_server.mint(), NOW + 1)
    with pytest.raises(StopIteration):  # no request yielded: pure CPU
        next(flow)
    assert not verifier.refresh_due(NOW + 1)
    assert verifier.refresh_due(NOW + 1, ahead=600)


def test_refresh_flow_refreshes_ahead_of_expiry(
    issuer_server: Any, verifier: Any, run: Any
) -> None:
    run(verifier.startup_flow(NOW))
    run(verifier.refresh_flow(NOW + 550, ahead=60))
    assert issuer_server.jwks_fetches == 2
    run(verifier.refresh_flow(NOW + 560, ahead=60))
    assert issuer_server.jwks_fetches == 2


def test_startup_flow_raises_503_when_keys_cannot_load(
    issuer_server: Any, verifier: Any, run: Any
) -> None:
    issuer_server.server.fault = "500"
    with pytest.raises(VerifierUnavailable):
        run(verifier.startup_flow(NOW))


# -- verified-token cache -------------------------------------------------------------------------


def test_cache_hit_after_verification(issuer_server: Any, verifier: Any, run: Any) -> None:
    token = issuer_server.mint()
    assert verifier.cached(token, NOW) is None
    principal = run(verifier.verify(token, NOW))
    assert verifier.cached(token, NOW + 1) is principal


def test_R9068_7_cache_never_extends_a_tokens_life(
    issuer_server: Any, verifier: Any, run: Any
) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(exp=NOW + 100))
    run(verifier.verify(token, NOW))
    assert verifier.cached(token, NOW + 159) is not None  # leeway 60
    assert verifier.cached(token, NOW + 160) is None
    with pytest.raises(InvalidToken):
        run(verifier.verify(token, NOW + 160))


def test_R7519_2_cache_hit_rechecks_nbf(issuer_server: Any, verifier: Any, run: Any) -> None:
    token = issuer_server.mint(claims=issuer_server.claims(nbf=NOW + 30))
    run(verifier.verify(token, NOW))
    assert verifier.cached(token, NOW - 100) is None  # a clock that went back


def test_R7662_11_cache_keyed_by_sha256_not_the_token(
    issuer_server: Any, make_verifier: Any, run: Any
) -> None:
    store: MemoryStore[Any] = MemoryStore()
    verifier = make_verifier(cache=store)
    token = issuer_server.mint()
    run(verifier.verify(token, NOW))
    assert store.keys() == [token_key(token, verifier.namespace)]


def test_failed_tokens_are_not_cached(issuer_server: Any, make_verifier: Any, run: Any) -> None:
    store: MemoryStore[Any] = MemoryStore()
    verifier = make_verifier(cache=store)
    with pytest.raises(InvalidToken):
        run(verifier.verify(issuer_server.mint(claims=issuer_server.claims(aud="x")), NOW))
    assert len(store) == 0


def test_cache_can_be_turned_off(issuer_server: Any, make_verifier: Any, run: Any) -> None:
    verifier = make_verifier(cache_tokens=False)
    token = issuer_server.mint()
    run(verifier.verify(token, NOW))
    assert verifier.cached(token, NOW) is None


def test_cached_never_raises_on_junk(verifier: Any) -> None:
    for junk in ["", "\u00e9", "a.b.c", "x" * 100_000, "\ud800"]:
        assert verifier.cached(junk, NOW) is None


# -- async driver ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_driver_verifies_against_the_real_server(
    issuer_server: Any, verifier: Any
) -> None:
    async with httpx.AsyncClient() as client:
        transport = AsyncHttpxTransport(client)
        principal = await run_async(verifier.verify(issuer_server.mint(), NOW), transport)
        assert principal.subject == "user-1"
        issuer_server.server.fault = "500"
        other = issuer_server.new_key("RS256", kid="unknown-yet", publish=False)
        with pytest.raises(VerifierUnavailable):
            await run_async(verifier.verify(issuer_server.mint(other), NOW + 1), transport)
