"""Hypothesis properties of the core: parser, renderer, credentials and the policy engine."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from stepup_mfa._core.challenge import (
    Challenge,
    params_of,
    parse_www_authenticate,
    render_challenge,
    render_www_authenticate,
    sanitize,
)
from stepup_mfa._core.credentials import RequestView, TokenMethods, extract_credentials
from stepup_mfa._core.decision import ChallengeSettings, deny, evaluate
from stepup_mfa._core.errors import (
    ConfigurationError,
    InvalidRequest,
    InvalidToken,
    MalformedHeader,
    PolicyWarning,
)
from stepup_mfa._core.policy import REGISTERED_AMR, Policy, Rule
from stepup_mfa._core.principal import Principal

NOW = 1_800_000_000
PROPERTY = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- alphabets ---------------------------------------------------------------------------------

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: RFC 6750 §3: what an auth-param value may hold.
VALUE_CHARS = "".join(chr(c) for c in [0x20, 0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)])
HEADERISH = st.sampled_from(
    [
        *'"\\,=; \t\r\n\x00\x7f\x0b/+~.-_',
        *["\u00e9", "\u00b2", "\u00a0", "\u200b", "\u2028"],
        *["Bearer", "bearer", "DPoP", "realm", "max_age", "error", "a", "Z", "0", "9", "=="],
    ]
)
HEADERISH_TEXT = st.lists(HEADERISH, max_size=30).map("".join)
ANY_TEXT = st.one_of(st.text(max_size=60), HEADERISH_TEXT)
LATIN_1 = st.text(st.characters(max_codepoint=0xFF), max_size=12)
PARAM_NAMES = ["max_age", "acr_values", "scope", "error", "realm", "Max_Age"]
DIGITISH = st.text("19\u00b2\u00b3\u00b9", min_size=1, max_size=3)  # "²" is a digit, not int()


@st.composite
def near_valid(draw: st.DrawFn) -> str:
    """Nearly well-formed challenges: known names, raw (unescaped) Latin-1 or digit-like values."""
    names = draw(st.lists(st.sampled_from(PARAM_NAMES), min_size=1, max_size=4, unique=True))
    pairs = []
    for name in names:
        value = draw(st.one_of(DIGITISH, LATIN_1, HEADERISH_TEXT))
        pairs.append(f'{name}="{value}"' if draw(st.booleans()) else f"{name}={value}")
    separator = draw(st.sampled_from([", ", ",", ", \t", " ,, ", " "]))
    return draw(st.sampled_from(["Bearer", "DPoP", "x"])) + " " + separator.join(pairs)


tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
values = st.text(alphabet=VALUE_CHARS, max_size=40)
token68s = st.from_regex(r"[A-Za-z0-9\-._~+/]{1,20}={0,2}", fullmatch=True)


@st.composite
def legal_challenges(draw: st.DrawFn) -> Challenge:
    scheme = draw(tokens)
    if draw(st.booleans()):
        return Challenge(scheme, token68=draw(token68s))
    names = draw(st.lists(tokens, min_size=1, max_size=6, unique_by=str.lower))
    return Challenge(scheme, params_of([(name, draw(values)) for name in names]))


def normalised(challenge: Challenge) -> tuple[str, dict[str, str], str | None]:
    params = {name.lower(): value for name, value in challenge.params.items()}
    return challenge.scheme, params, challenge.token68


# -- 1. render then parse is the identity on legal challenges ----------------------------------


@PROPERTY
@given(st.lists(legal_challenges(), min_size=1, max_size=4))
def test_render_then_parse_round_trips(challenges: list[Challenge]) -> None:
    parsed = parse_www_authenticate(render_www_authenticate(challenges))
    assert [normalised(c) for c in parsed] == [normalised(c) for c in challenges]


# -- 2. hostile input: only the library's own error --------------------------------------------


@PROPERTY
@given(st.one_of(ANY_TEXT, near_valid()))
@example('Bearer max_age="\u00b2"')  # regression: str.isdigit() accepts it, int() does not
def test_parser_raises_only_malformed_header(value: str) -> None:
    try:
        challenges = parse_www_authenticate(value)
    except MalformedHeader:
        return
    for challenge in challenges:  # the accessors a client calls never crash either
        _ = (challenge.error, challenge.acr_values, challenge.max_age, challenge.scopes)


@PROPERTY
@given(
    lines=st.lists(st.one_of(ANY_TEXT, ANY_TEXT.map(lambda s: "Bearer " + s)), max_size=3),
    query=st.one_of(ANY_TEXT, ANY_TEXT.map(lambda s: "access_token=" + s)),
    method=st.sampled_from(["GET", "POST", "HEAD", "put", ""]),
    content_type=st.one_of(
        st.none(), st.sampled_from(["application/x-www-form-urlencoded", "multipart/form-data"])
    ),
    body=st.one_of(st.none(), st.binary(max_size=40), ANY_TEXT.map(str.encode)),
    query_on=st.booleans(),
    body_on=st.booleans(),
)
def test_extract_credentials_raises_only_invalid_request(
    lines: list[str],
    query: str,
    method: str,
    content_type: str | None,
    body: bytes | None,
    query_on: bool,
    body_on: bool,
) -> None:
    request = RequestView(method, "/", tuple(lines), query, content_type, body)
    try:
        extract_credentials(request, TokenMethods(query=query_on, body=body_on))
    except InvalidRequest:
        pass


# -- 3. evaluate allows exactly when every requirement holds -----------------------------------

SCOPES = ["a", "b", "c:read"]
ACRS = ["urn:x:acr:1", "urn:x:acr:2", "urn:x:acr:3"]
METHODS = ["pwd", "otp", "hwk", "mfa"]
RULES = {
    "has-subject": Rule("has-subject", lambda p: p.subject is not None),
    "admin": Rule("admin", lambda p: p.claims.get("role") == "admin"),
}
ABSENT: Any = object()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(ABSENT), strategy)


claim_sets = st.fixed_dictionaries(
    {
        "sub": maybe(st.sampled_from(["u1", "u2"])),
        "role": maybe(st.sampled_from(["admin", "user", 1])),
        "scope": maybe(
            st.one_of(
                st.lists(st.sampled_from([*SCOPES, "", "C:READ"])).map(" ".join),
                st.lists(st.sampled_from(SCOPES)),
                st.integers(),
            )
        ),
        "acr": maybe(
            st.one_of(st.sampled_from([*ACRS, "URN:X:ACR:1"]), st.lists(st.just(ACRS[0])))
        ),
        "amr": maybe(
            st.one_of(
                st.lists(st.one_of(st.sampled_from([*METHODS, "OTP", "x"]), st.integers())),
                st.sampled_from(METHODS),
            )
        ),
        "auth_time": maybe(
            st.one_of(
                # ages at and around the max_age values below, so the boundary is exercised
                st.sampled_from([0, 1, 59, 60, 61, 299, 300, 301]).map(lambda age: NOW - age),
                st.integers(NOW - 400, NOW + 60),
                st.floats(NOW - 400, NOW + 60, allow_nan=False),
            )
        ),
    }
).map(lambda d: {k: v for k, v in d.items() if v is not ABSENT})

policy_kwargs = st.fixed_dictionaries(
    {
        "scopes": st.frozensets(st.sampled_from(SCOPES)),
        "acr_values": st.lists(st.sampled_from(ACRS), unique=True),
        "amr": st.frozensets(st.sampled_from(METHODS)),
        "max_age": st.one_of(st.none(), st.sampled_from([0, 60, 300]), st.integers(0, 300)),
        "rules": st.lists(st.sampled_from(sorted(RULES)), unique=True),
    }
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A policy and claims that meet most of its requirements, so each one gets tested alone."""
    kwargs = draw(policy_kwargs)
    claims = draw(claim_sets)
    fits = st.sampled_from([True, True, True, False])
    if draw(fits):
        extra = draw(st.lists(st.sampled_from(SCOPES), max_size=2))
        claims["scope"] = " ".join([*sorted(kwargs["scopes"]), *extra])
    if kwargs["acr_values"] and draw(fits):
        claims["acr"] = draw(st.sampled_from(kwargs["acr_values"]))
    if kwargs["amr"] and draw(fits):
        claims["amr"] = [draw(st.sampled_from(sorted(kwargs["amr"]))), *draw(st.lists(st.text()))]
    if kwargs["max_age"] is not None and draw(fits):
        age = draw(st.one_of(st.just(kwargs["max_age"]), st.integers(0, kwargs["max_age"])))
        claims["auth_time"] = NOW - age
    if draw(fits):
        claims["sub"], claims["role"] = "u1", "admin"
    return claims, kwargs


def build_policy(kwargs: Mapping[str, Any], authenticated: bool = True) -> Policy:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyWarning)  # amr without acr, max_age=0: still valid
        if not authenticated:
            return Policy(authenticated=False)
        return Policy(**{**kwargs, "rules": [RULES[name] for name in kwargs["rules"]]})


def reference_allows(
    claims: Mapping[str, Any] | None, kwargs: Mapping[str, Any], now: float
) -> bool:
    """Written from the checklist, not from the engine: every requirement must hold."""
    if claims is None:
        return False
    scope = claims.get("scope")
    granted = set(scope.split(" ")) if isinstance(scope, str) else set()
    if not all(s in granted for s in kwargs["scopes"]):
        return False
    acr = claims.get("acr")
    if kwargs["acr_values"] and not (isinstance(acr, str) and acr in kwargs["acr_values"]):
        return False
    amr = claims.get("amr")
    methods = [m for m in amr if isinstance(m, str)] if isinstance(amr, list) else []
    if kwargs["amr"] and not any(m in kwargs["amr"] for m in methods):
        return False
    if kwargs["max_age"] is not None:
        auth_time = claims.get("auth_time")
        if auth_time is None or now - auth_time > kwargs["max_age"]:
            return False
    if "has-subject" in kwargs["rules"] and "sub" not in claims:
        return False
    return not ("admin" in kwargs["rules"] and claims.get("role") != "admin")


@PROPERTY
@given(
    scenario=scenarios(),
    no_token=st.sampled_from([False] * 9 + [True]),
    authenticated=st.sampled_from([True] * 9 + [False]),
    now=st.one_of(st.just(NOW), st.just(NOW), st.floats(NOW - 5, NOW + 5, allow_nan=False)),
)
def test_evaluate_matches_the_reference(
    scenario: tuple[dict[str, Any], dict[str, Any]],
    no_token: bool,
    authenticated: bool,
    now: float,
) -> None:
    claims: dict[str, Any] | None = None if no_token else scenario[0]
    kwargs = scenario[1]
    policy = build_policy(kwargs, authenticated)
    principal = None if claims is None else Principal.from_claims(claims)
    expected = not authenticated or reference_allows(claims, kwargs, now)
    assert evaluate(principal, policy, now).allowed is expected


@PROPERTY
@given(claims=claim_sets, kwargs=policy_kwargs)
def test_one_step_up_challenge_names_every_requirement(
    claims: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    """R9470-5/6: a step-up names all of the route's acr and max_age, plus missing scopes."""
    policy = build_policy(kwargs)
    decision = evaluate(Principal.from_claims(claims), policy, NOW)
    if decision.allowed or decision.status != 401:
        return
    [challenge] = parse_www_authenticate(decision.www_authenticate or "")
    scope = claims.get("scope")
    granted = set(scope.split(" ")) if isinstance(scope, str) else set()
    expected = (
        tuple(kwargs["acr_values"]),
        kwargs["max_age"],
        frozenset(kwargs["scopes"]) if not kwargs["scopes"] <= granted else frozenset(),
    )
    assert (challenge.acr_values, challenge.max_age, challenge.scopes) == expected


# -- 4. adding a requirement never turns a deny into an allow ----------------------------------


NO_REQUIREMENT: dict[str, Any] = {
    "scopes": frozenset(),
    "acr_values": [],
    "amr": frozenset(),
    "max_age": None,
    "rules": [],
}
#: One more requirement on its own: what "adding a requirement" most often looks like.
one_requirement = st.tuples(policy_kwargs, st.sampled_from(sorted(NO_REQUIREMENT))).map(
    lambda drawn: {**NO_REQUIREMENT, drawn[1]: drawn[0][drawn[1]]}
)


@PROPERTY
@given(
    scenario=scenarios(),
    no_token=st.sampled_from([False] * 9 + [True]),
    right=st.one_of(one_requirement, policy_kwargs),
)
def test_adding_a_requirement_never_allows_more(
    scenario: tuple[dict[str, Any], dict[str, Any]], no_token: bool, right: dict[str, Any]
) -> None:
    claims: dict[str, Any] | None = None if no_token else scenario[0]
    left = scenario[1]
    p, q = build_policy(left), build_policy(right)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PolicyWarning)
            both = p & q
    except ConfigurationError:
        return  # nothing in common (acr or amr): refused at start-up, never at request time
    principal = None if claims is None else Principal.from_claims(claims)
    combined = evaluate(principal, both, NOW).allowed
    assert combined <= evaluate(principal, p, NOW).allowed
    assert combined <= evaluate(principal, q, NOW).allowed


# -- 5. nothing unsafe reaches a rendered challenge --------------------------------------------


def assert_safe_header(header: str, params: int) -> None:
    assert header.isascii() and header.isprintable()  # no CR, LF, controls, non-ASCII
    assert header.count('"') == 2 * params  # every quote opens or closes a quoted-string
    assert "\\" not in header


@PROPERTY
@given(description=ANY_TEXT, extra=st.dictionaries(tokens, ANY_TEXT, max_size=4))
def test_rendered_challenge_is_always_safe(description: str, extra: dict[str, str]) -> None:
    params = params_of([("error_description", description), *extra.items()])
    header = render_challenge(Challenge("Bearer", params))
    assert_safe_header(header, len(params))


@PROPERTY
@given(description=ANY_TEXT)
def test_denial_header_is_safe_and_parses_back(description: str) -> None:
    decision = deny(InvalidToken(description), ChallengeSettings(realm="api"))
    header = decision.www_authenticate or ""
    assert_safe_header(header, 3)
    [challenge] = parse_www_authenticate(header)
    assert challenge.param("error_description") == sanitize(description)


@PROPERTY
@given(value=ANY_TEXT)
def test_sanitize_keeps_only_rfc6750_characters(value: str) -> None:
    assert set(sanitize(value)) <= set(VALUE_CHARS)


@PROPERTY
@given(lines=st.lists(ANY_TEXT.map(lambda s: "Bearer " + s), min_size=1, max_size=2))
def test_malformed_authorization_never_echoes_into_the_challenge(lines: list[str]) -> None:
    try:
        extract_credentials(RequestView("GET", "/", tuple(lines)))
    except InvalidRequest as error:
        header = deny(error, ChallengeSettings(realm="api")).www_authenticate or ""
        assert_safe_header(header, 3)
        [challenge] = parse_www_authenticate(header)
        assert challenge.error == "invalid_request"


def test_registered_methods_used_here_do_not_warn() -> None:
    assert set(METHODS) <= REGISTERED_AMR
