"""PERF-5: the inline reading of claims in ``Principal.from_claims`` refuses and keeps exactly what
the plain reading (each claim through its helper, every field through the dataclass constructor)
does, for JWTs and introspection answers, over generated claims."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stepup_mfa._core.errors import InvalidToken
from stepup_mfa._core.principal import Principal, _audience, _optional_string, numeric_date

NOW = 1_800_000_000
_BIG = int(sys.float_info.max)

#: Integers at the float range's edges and past it (a NumericDate must fit a float).
_EDGES = st.sampled_from([_BIG, _BIG + 2**1000, -_BIG, -_BIG - 2**1000, 2**1024, -(2**1024)])
_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | _EDGES
    | st.floats()
    | st.text(max_size=6)
    | st.integers(NOW - 100, NOW + 100)
)
_value = st.recursive(
    _scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
_NAMES = ("sub", "client_id", "iss", "aud", "scope", "exp", "nbf", "iat", "auth_time", "acr",
          "amr", "cnf", "token_type", "jti")  # fmt: skip
_any = _value | st.text(alphabet=" ab", max_size=6) | st.lists(st.text(max_size=2), max_size=3)
_date = st.integers(NOW - 100, NOW + 100) | st.floats(allow_nan=False, allow_infinity=False)
_text = st.text(max_size=4)
_VALID = {
    "sub": _text, "client_id": _text, "iss": _text, "acr": _text, "jti": _text,
    "token_type": _text, "aud": _text | st.lists(_text, max_size=3),
    "scope": st.text(alphabet=" ab", max_size=6), "amr": st.lists(_text, max_size=3),
    "exp": _date, "nbf": _date, "iat": _date, "auth_time": _date,
    "cnf": st.dictionaries(_text, _text, max_size=2),
}  # fmt: skip


@st.composite
def _claims(draw: st.DrawFn) -> dict[str, Any]:
    """Valid claims, each present about half the time, then one or two of them (or another
    member) given any JSON value: most examples then differ from a valid set in one place."""
    claims = draw(st.fixed_dictionaries({}, optional=_VALID))
    for _ in range(draw(st.integers(0, 2))):
        claims[draw(st.sampled_from(_NAMES) | st.text(max_size=3))] = draw(_EDGES | _any)
    return claims


def _plain(claims: dict[str, Any], kind: Any) -> Principal:
    """The reading the inline one replaces, written out plainly."""
    get = claims.get
    cnf = get("cnf")
    if cnf is not None and not isinstance(cnf, dict):
        raise InvalidToken("Malformed access token")
    for name in ("exp", "nbf", "iat", "auth_time"):
        if kind == "jwt" and name in claims and claims[name] is None:
            raise InvalidToken("Malformed access token")
    scope = get("scope")
    amr = get("amr")
    acr = get("acr")
    return Principal(
        subject=_optional_string(get("sub")),
        client_id=_optional_string(get("client_id")),
        issuer=_optional_string(get("iss")),
        audience=_audience(get("aud")),
        scopes=frozenset(s for s in scope.split(" ") if s)
        if isinstance(scope, str)
        else frozenset(),
        expires_at=numeric_date(get("exp")),
        not_before=numeric_date(get("nbf")),
        issued_at=numeric_date(get("iat")),
        auth_time=numeric_date(get("auth_time")),
        acr=acr if isinstance(acr, str) else None,
        amr=tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else (),
        cnf=None if cnf is None else dict(cnf),
        token_type=_optional_string(get("token_type")),
        kind=kind,
        claims=dict(claims),
    )


def _outcome(build: Any, claims: dict[str, Any], kind: Any) -> tuple[str, ...] | str:
    try:
        principal = build(claims, kind)
    except InvalidToken as error:
        return f"refused: {error}"
    values = [
        repr(getattr(principal, f.name))
        for f in dataclasses.fields(Principal)
        if f.name not in ("cnf", "claims")
    ]
    return (*values, repr(dict(principal.cnf or {})), repr(dict(principal.claims)))


@settings(max_examples=400)
@given(_claims(), st.sampled_from(["jwt", "introspection"]))
def test_perf_5_inline_claim_reading_matches_the_plain_reading(
    claims: dict[str, Any], kind: Any
) -> None:
    """PERF-5, R7519-1, R7519-5, OIDC-1: same refusals, same fields (ints at the float range's
    edges and past it, booleans, nulls, nested values)."""
    expected = _outcome(_plain, claims, kind)
    assert _outcome(Principal.from_claims, claims, kind) == expected
    assert _outcome(Principal._from_owned_claims, dict(claims), kind) == expected


@given(_claims())
def test_perf_5_a_subclass_gets_its_own_type(claims: dict[str, Any]) -> None:
    """PERF-5: ``from_claims`` on a subclass still returns that subclass, with the same fields."""

    class Custom(Principal):
        pass

    try:
        principal = Principal.from_claims(claims)
    except InvalidToken:
        return
    custom = Custom.from_claims(claims)
    assert type(custom) is Custom
    for f in dataclasses.fields(Principal):
        assert getattr(custom, f.name) == getattr(principal, f.name)


_EDGE_VALUES = [_BIG, _BIG + 2**1000, -_BIG, -_BIG - 2**1000, 2**1024, -(2**1024), True, None,
                1.5, float("inf"), float("-inf"), float("nan"), "1", [1], {"a": 1}]  # fmt: skip


@pytest.mark.parametrize("kind", ["jwt", "introspection"])
@pytest.mark.parametrize("value", _EDGE_VALUES, ids=repr)
@pytest.mark.parametrize("name", [*_NAMES, "other"])
def test_perf_5_each_claim_at_its_edges_reads_as_plainly(name: str, value: Any, kind: Any) -> None:
    """PERF-5, R7519-5, T2: every claim alone at the float range's edges, a boolean, a null, a
    non-finite number or another JSON type: the inline reading decides as the plain one."""
    claims = {"sub": "u1", "exp": NOW, name: value}
    assert _outcome(Principal.from_claims, claims, kind) == _outcome(_plain, claims, kind)
