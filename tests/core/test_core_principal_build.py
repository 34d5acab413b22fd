"""PERF-5: the principal's fast construction sets exactly what the dataclass constructor would.

``Principal.from_claims`` stores the fields through the slots' setters instead of the generated
``__init__``, and the JWT verifier hands over its freshly parsed payload without another copy.
These tests hold the fast path to the constructor, field by field, and to the original reading
of ``scope`` and ``amr`` (R9068-12, OIDC-8, R8176-2), over generated claims.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._core.principal import Principal

NOW = 1_800_000_000

_json_scalar = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_json = st.recursive(
    _json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
_NAMES = ("sub", "client_id", "iss", "aud", "scope", "exp", "nbf", "iat", "auth_time", "acr",
          "amr", "cnf", "token_type", "jti")  # fmt: skip
_claims = st.dictionaries(
    st.sampled_from(_NAMES) | st.text(max_size=4),
    _json
    | st.text(alphabet=" ab", max_size=8)
    | st.lists(st.text(max_size=3) | st.integers(), max_size=3)
    | st.integers(NOW - 100, NOW + 100),
    max_size=8,
)


def _constructed(principal: Principal) -> Principal:
    """The same principal through the dataclass's own ``__init__``."""
    return Principal(**{f.name: getattr(principal, f.name) for f in dataclasses.fields(Principal)})


def _reference_scopes(scope: object) -> frozenset[str]:
    return frozenset(s for s in scope.split(" ") if s) if isinstance(scope, str) else frozenset()


def _reference_amr(amr: object) -> tuple[str, ...]:
    return tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else ()


@given(_claims, st.sampled_from(["jwt", "introspection"]))
def test_perf_4_fast_principal_has_every_field_of_the_constructor(
    claims: dict[str, Any], kind: Any
) -> None:
    """PERF-5: every slot is set (reading one never raises), and the constructor with the same
    values gives an equal principal with the same cnf and claims."""
    try:
        principal = Principal.from_claims(claims, kind)
    except InvalidToken:
        return
    rebuilt = _constructed(principal)
    assert rebuilt == principal
    assert hash(rebuilt) == hash(principal)
    for f in dataclasses.fields(Principal):
        assert getattr(rebuilt, f.name) is getattr(principal, f.name)
    assert repr(rebuilt) == repr(principal)


@given(_claims)
def test_perf_4_scope_and_amr_read_as_before(claims: dict[str, Any]) -> None:
    """PERF-5, R9068-12, OIDC-8, R8176-2: scopes split on spaces without empty entries, amr
    keeps its string entries only, as the generator expressions they replace did."""
    try:
        principal = Principal.from_claims(claims, "introspection")
    except InvalidToken:
        return
    assert principal.scopes == _reference_scopes(claims.get("scope"))
    assert principal.amr == _reference_amr(claims.get("amr"))


def test_perf_4_from_claims_copies_the_callers_mapping() -> None:
    """PERF-5: the public constructor still keeps its own copy of the claims."""
    claims: dict[str, Any] = {"sub": "u1", "exp": NOW}
    principal = Principal.from_claims(claims)
    claims["sub"] = "someone else"
    assert principal.claims["sub"] == "u1"


def test_perf_4_owned_claims_are_kept_read_only_without_a_copy() -> None:
    """PERF-5: the verifier's parsed payload becomes the principal's claims, read-only."""
    payload: dict[str, Any] = {"sub": "u1", "exp": NOW, "cnf": {"jkt": "x"}}
    principal = Principal._from_owned_claims(payload, "jwt")
    assert principal.claims == payload
    assert principal.cnf == {"jkt": "x"}
    assert principal == Principal.from_claims(payload, "jwt")


def test_perf_4_fast_principal_is_still_frozen_and_replaceable() -> None:
    """PERF-5: the fast path yields an ordinary frozen Principal (replace works, setattr fails)."""
    principal = Principal.from_claims({"sub": "u1", "auth_time": NOW}, "jwt")
    moved = dataclasses.replace(principal, auth_time=NOW - 1)
    assert (moved.subject, moved.auth_time, moved.claims) == ("u1", NOW - 1, principal.claims)
    with pytest.raises(dataclasses.FrozenInstanceError):
        principal.subject = "x"  # type: ignore[misc]
