"""The one ``WWW-Authenticate`` renderer and parser (RFC 9110 §11, RFC 6750 §3, RFC 9470 §3).

A few tests pin the renderer's exact output; everything else parses the header.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from stepup_mfa._core.challenge import (
    Challenge,
    params_of,
    parse_www_authenticate,
    quote,
    render_challenge,
    render_www_authenticate,
    sanitize,
)
from stepup_mfa._core.decision import ChallengeSettings, deny
from stepup_mfa._core.errors import InvalidToken, MalformedHeader

MFA = "urn:example:acr:mfa"
HWK = "urn:example:acr:hwk"
UNSAFE = 'bad "value" \\ caf\u00e9\r\nSet-Cookie: session=1\x00\x7f\t'


# -- exact shapes of the renderer --------------------------------------------------------------


def test_render_exact_step_up_shape() -> None:
    challenge = Challenge(
        "Bearer",
        params_of(
            [
                ("realm", "api"),
                ("error", "insufficient_user_authentication"),
                ("error_description", "More recent authentication is required"),
                ("max_age", "60"),
            ]
        ),
    )
    assert render_challenge(challenge) == (
        'Bearer realm="api", error="insufficient_user_authentication", '
        'error_description="More recent authentication is required", max_age="60"'
    )


def test_render_several_challenges_comma_separated() -> None:
    challenges = [
        Challenge("Bearer", params_of([("realm", "api")])),
        Challenge("DPoP", params_of([("algs", "ES256 PS256")])),
    ]
    assert render_www_authenticate(challenges) == 'Bearer realm="api", DPoP algs="ES256 PS256"'


def test_render_token68() -> None:
    assert render_challenge(Challenge("Negotiate", token68="abc==")) == "Negotiate abc=="


def test_params_of_drops_missing_values_and_keeps_order() -> None:
    assert list(params_of([("b", "1"), ("a", None), ("c", "")]).items()) == [("b", "1"), ("c", "")]


# -- RFC 6750 §3 and RFC 9110 §11 rules on the renderer ----------------------------------------


def test_r6750_10_bare_scheme_is_never_rendered() -> None:
    with pytest.raises(ValueError, match="at least one auth-param"):
        render_challenge(Challenge("Bearer"))


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("api", id="R9110-3-plain"),
        pytest.param("", id="R9110-3-empty"),
        pytest.param("my api, v2=x", id="R9110-3-comma-equals"),
    ],
)
def test_r9110_3_realm_is_always_a_quoted_string(value: str) -> None:
    rendered = render_challenge(Challenge("Bearer", params_of([("realm", value)])))
    assert rendered == f'Bearer realm="{value}"'


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        pytest.param('say "hi"', "say hi", id="R6750-14-S12-quote"),
        pytest.param("a\\b", "ab", id="R6750-14-S12-backslash"),
        pytest.param("caf\u00e9", "caf", id="R6750-14-S12-non-ascii"),
        pytest.param("a\r\nSet-Cookie: x=1", "aSet-Cookie: x=1", id="R6750-14-S12-crlf"),
        pytest.param("a\tb\x00c\x7fd", "abcd", id="R6750-14-controls"),
        pytest.param("ok value! #$%&'()*+,-./:;<=>?@[]^_`{|}~", None, id="R6750-14-allowed"),
    ],
)
def test_r6750_14_sanitize(raw: str, clean: str | None) -> None:
    assert sanitize(raw) == (raw if clean is None else clean)


def test_r6750_14_quote_wraps_the_sanitized_value() -> None:
    assert quote('x"y') == '"xy"'


def test_s12_description_cannot_inject_a_header() -> None:
    decision = deny(InvalidToken(UNSAFE), ChallengeSettings(realm="api"))
    header = decision.www_authenticate
    assert header is not None
    assert header.isascii() and header.isprintable()


def test_s12_description_is_sanitized_not_dropped() -> None:
    decision = deny(InvalidToken(UNSAFE), ChallengeSettings(realm="api"))
    assert decision.www_authenticate is not None
    [challenge] = parse_www_authenticate(decision.www_authenticate)
    assert challenge.param("error_description") == "bad value  cafSet-Cookie: session=1"


# -- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param('Bearer realm="api"', [("Bearer", {"realm": "api"})], id="R6750-9-realm"),
        pytest.param(
            'Bearer error="insufficient_scope", scope="cats:read cats:write"',
            [("Bearer", {"error": "insufficient_scope", "scope": "cats:read cats:write"})],
            id="R6750-17-scope",
        ),
        pytest.param(
            "Bearer error=invalid_token, max_age=60",
            [("Bearer", {"error": "invalid_token", "max_age": "60"})],
            id="R9470-4-token-form",
        ),
        pytest.param(
            'bearer REALM="api", Error="x"',
            [("bearer", {"realm": "api", "error": "x"})],
            id="R9110-2-names-case-insensitive",
        ),
        pytest.param(
            'Bearer realm = "api" ,  error="x"',
            [("Bearer", {"realm": "api", "error": "x"})],
            id="R9110-2-whitespace",
        ),
        pytest.param(
            r'Bearer realm="a\"b\\c"', [("Bearer", {"realm": 'a"b\\c'})], id="R9110-quoted-pair"
        ),
        pytest.param(
            'Bearer realm="api", DPoP algs="ES256 PS256"',
            [("Bearer", {"realm": "api"}), ("DPoP", {"algs": "ES256 PS256"})],
            id="R9110-two-challenges",
        ),
        pytest.param(
            'Basic, Bearer realm="api"',
            [("Basic", {}), ("Bearer", {"realm": "api"})],
            id="R9110-scheme-only",
        ),
        pytest.param("", [], id="empty"),
        pytest.param(" , ,", [], id="only-separators"),
    ],
)
def test_parse(header: str, expected: list[tuple[str, dict[str, str]]]) -> None:
    parsed = parse_www_authenticate(header)
    assert [(c.scheme, dict(c.params)) for c in parsed] == expected


def test_parse_token68() -> None:
    [challenge] = parse_www_authenticate("Negotiate abc/+==")
    assert (challenge.scheme, challenge.token68, dict(challenge.params)) == (
        "Negotiate",
        "abc/+==",
        {},
    )


@pytest.mark.parametrize(
    "header",
    [
        pytest.param('Bearer realm="a", realm="b"', id="R6750-11-repeated"),
        pytest.param('Bearer realm="a", REALM="b"', id="R6750-11-R9110-2-repeated-case"),
        pytest.param('Bearer error="a", scope="s", error="b"', id="R6750-11-repeated-error"),
        pytest.param('Bearer realm="api', id="unterminated-quote"),
        pytest.param('Bearer realm="api" error="x"', id="missing-comma"),
        pytest.param('Bearer realm="a\r\nb"', id="crlf-in-quoted-string"),
        pytest.param('"Bearer" realm="a"', id="quoted-scheme"),
        pytest.param('Bearer a="b", c=', id="missing-value"),
        pytest.param("=Bearer", id="starts-with-equals"),
        pytest.param('Bearer realm="\u0100"', id="beyond-latin-1"),
        pytest.param("Bearer a=b=", id="bad-token68"),
    ],
)
def test_parse_rejects(header: str) -> None:
    with pytest.raises(MalformedHeader):
        parse_www_authenticate(header)


def test_parse_rejects_non_string() -> None:
    with pytest.raises(MalformedHeader):
        parse_www_authenticate(b'Bearer realm="api"')  # type: ignore[arg-type]


def test_challenge_param_lookup_is_case_insensitive() -> None:
    challenge = Challenge("Bearer", params_of([("Max_Age", "60")]))
    assert challenge.param("MAX_AGE") == "60"


@pytest.mark.parametrize(
    ("header", "max_age"),
    [
        pytest.param('Bearer max_age="60"', 60, id="R9470-4-quoted"),
        pytest.param("Bearer max_age=0", 0, id="R9470-4-token-zero"),
        pytest.param('Bearer max_age="-1"', None, id="R9470-4-negative"),
        pytest.param('Bearer max_age="1.5"', None, id="R9470-4-fraction"),
        pytest.param('Bearer max_age="60s"', None, id="R9470-4-suffix"),
        pytest.param('Bearer max_age="\u00b2"', None, id="R9470-4-superscript-digit"),
        pytest.param('Bearer realm="api"', None, id="R9470-4-absent"),
    ],
)
def test_r9470_4_client_reads_max_age(header: str, max_age: int | None) -> None:
    [challenge] = parse_www_authenticate(header)
    assert challenge.max_age == max_age


def test_r9470_3_client_reads_acr_values_in_order() -> None:
    [challenge] = parse_www_authenticate(f'Bearer acr_values="{HWK} {MFA}"')
    assert challenge.acr_values == (HWK, MFA)


def test_r9470_6_client_reads_scopes() -> None:
    [challenge] = parse_www_authenticate('Bearer scope="cats:read dogs:read"')
    assert challenge.scopes == frozenset({"cats:read", "dogs:read"})


def test_r9470_7_s9_dpop_step_up_challenge_round_trips() -> None:
    """The core's renderer and parser carry the step-up params under the DPoP scheme too."""
    params = params_of(
        [
            ("error", "insufficient_user_authentication"),
            ("error_description", "A different authentication level is required"),
            ("acr_values", MFA),
            ("max_age", "60"),
            ("algs", "ES256 PS256"),
        ]
    )
    [parsed] = parse_www_authenticate(render_challenge(Challenge("DPoP", params)))
    assert (parsed.scheme, dict(parsed.params)) == ("DPoP", dict(params))


def test_r9470_7_dpop_challenge_from_the_checklist_parses() -> None:
    header = (
        'DPoP error="insufficient_user_authentication", error_description="x", '
        f'acr_values="{MFA}", max_age="60", algs="ES256 PS256"'
    )
    [parsed] = parse_www_authenticate(header)
    assert (parsed.error, parsed.acr_values, parsed.max_age) == (
        "insufficient_user_authentication",
        (MFA,),
        60,
    )


def test_oidc_9_acr_values_copy_into_an_authorization_request() -> None:
    header = render_challenge(Challenge("Bearer", params_of([("acr_values", f"{HWK} {MFA}")])))
    [parsed] = parse_www_authenticate(header)
    value = parsed.param("acr_values")
    url = "https://as.example.com/authorize?" + urlencode({"acr_values": value})
    assert parse_qs(urlsplit(url).query)["acr_values"] == [f"{HWK} {MFA}"]
