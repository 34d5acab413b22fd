"""Finding the bearer token in a request: RFC 6750 §2, RFC 9110 §11.6.2 and attacks P1-P12.

Each row names the checklist ids it covers. ``extract_credentials`` returns the token, ``None``
(no credentials or an unsupported scheme: 401 with no error) or raises ``InvalidRequest`` (400).
"""

from __future__ import annotations

import dataclasses

import pytest

from stepup_mfa._core.challenge import parse_www_authenticate
from stepup_mfa._core.credentials import (
    MAX_AUTHORIZATION_LENGTH,
    MULTIPLE_METHODS,
    Credentials,
    RequestView,
    TokenMethods,
    extract_credentials,
)
from stepup_mfa._core.decision import ChallengeSettings, deny
from stepup_mfa._core.errors import InvalidRequest

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl"
FORM = "application/x-www-form-urlencoded"
QUERY_ON = TokenMethods(query=True)
BODY_ON = TokenMethods(body=True)
ALL_ON = TokenMethods(query=True, body=True)


def header(*lines: str) -> RequestView:
    return RequestView("GET", "/dogs/", authorization=lines)


def post(body: bytes, content_type: str | None = FORM, *lines: str) -> RequestView:
    return RequestView(
        "POST", "/dogs/", authorization=lines, content_type=content_type, form_body=body
    )


# -- requests that carry a token ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_view", "methods", "expected"),
    [
        pytest.param(header(f"Bearer {JWT}"), None, Credentials(JWT), id="R6750-1-header"),
        pytest.param(header(f"Bearer  {JWT}"), None, Credentials(JWT), id="R6750-2-two-spaces"),
        pytest.param(header("Bearer abc=="), None, Credentials("abc=="), id="R6750-2-padding"),
        pytest.param(
            header("Bearer A-z.0_9~+/"), None, Credentials("A-z.0_9~+/"), id="R6750-2-alphabet"
        ),
        pytest.param(header(f"bearer {JWT}"), None, Credentials(JWT), id="P7-R9110-2-lower"),
        pytest.param(header(f"BEARER {JWT}"), None, Credentials(JWT), id="P7-R9110-2-upper"),
        pytest.param(header(f"bEaReR {JWT}"), None, Credentials(JWT), id="R9110-2-mixed"),
        pytest.param(
            post(f"access_token={JWT}&x=1".encode()),
            BODY_ON,
            Credentials(JWT, method="body"),
            id="R6750-5-post-urlencoded",
        ),
        pytest.param(
            post(f"access_token={JWT}".encode(), f"{FORM}; charset=utf-8"),
            BODY_ON,
            Credentials(JWT, method="body"),
            id="R6750-5-media-type-params",
        ),
        pytest.param(
            RequestView("GET", "/dogs/", query_string=f"x=1&access_token={JWT}"),
            QUERY_ON,
            Credentials(JWT, method="query"),
            id="R6750-7-R6750-8-query-enabled",
        ),
        # P11: syntactically a b64token, so the header layer hands it on; the verifier answers 401.
        pytest.param(header("Bearer a.b"), None, Credentials("a.b"), id="P11-two-segments"),
        pytest.param(header("Bearer a.b.c.d"), None, Credentials("a.b.c.d"), id="P11-four"),
        pytest.param(header("Bearer ...."), None, Credentials("...."), id="P11-dots"),
        pytest.param(header("Bearer a+b/.c.d"), None, Credentials("a+b/.c.d"), id="P11-plus"),
    ],
)
def test_token_is_extracted(
    request_view: RequestView, methods: TokenMethods | None, expected: Credentials
) -> None:
    assert extract_credentials(request_view, methods or TokenMethods()) == expected


# -- requests without (usable) credentials: 401 with no error code --------------------------------


@pytest.mark.parametrize(
    ("request_view", "methods"),
    [
        pytest.param(RequestView("GET", "/dogs/"), None, id="R6750-9-nothing"),
        pytest.param(header("Basic dXNlcjpwYXNz"), None, id="R6750-18-basic"),
        pytest.param(header("Bearer\tx"), None, id="R6750-2-P7-tab"),
        pytest.param(header("Bearer:x"), None, id="P7-colon"),
        pytest.param(header("Bearer=x"), None, id="P7-equals"),
        pytest.param(header("Bearer\u00a0x"), None, id="P7-nbsp"),
        pytest.param(header("Bearerx abc"), None, id="P7-longer-scheme"),
        pytest.param(header("DPoP abc"), None, id="P14-other-scheme"),
        pytest.param(post(f"access_token={JWT}".encode()), None, id="R6750-4-P5-body-off"),
        pytest.param(
            RequestView("GET", "/dogs/", query_string=f"access_token={JWT}"),
            None,
            id="R6750-7-P5-query-off",
        ),
        pytest.param(
            RequestView(
                "GET", "/dogs/", content_type=FORM, form_body=f"access_token={JWT}".encode()
            ),
            BODY_ON,
            id="R6750-5-get-body",
        ),
        pytest.param(
            RequestView(
                "HEAD", "/dogs/", content_type=FORM, form_body=f"access_token={JWT}".encode()
            ),
            BODY_ON,
            id="R6750-5-head-body",
        ),
        pytest.param(
            post(
                b'--x\r\nContent-Disposition: form-data; name="access_token"\r\n\r\nabc\r\n--x--',
                "multipart/form-data; boundary=x",
            ),
            BODY_ON,
            id="R6750-5-multipart",
        ),
        pytest.param(post(f"access_token={JWT}".encode(), None), BODY_ON, id="R6750-5-no-type"),
        pytest.param(post(b"x=1"), BODY_ON, id="R6750-5-form-without-token"),
    ],
)
def test_no_credentials(request_view: RequestView, methods: TokenMethods | None) -> None:
    assert extract_credentials(request_view, methods or TokenMethods()) is None


# -- malformed requests: 400 invalid_request ---------------------------------------------------


@pytest.mark.parametrize(
    ("request_view", "methods", "description"),
    [
        pytest.param(header("Bearer abc def"), None, "Malformed", id="R6750-2-P8-space"),
        pytest.param(header("Bearer "), None, "Malformed", id="R6750-2-P8-empty"),
        pytest.param(header("Bearer"), None, "Malformed", id="R6750-2-no-token"),
        pytest.param(header("Bearer ab$cd"), None, "Malformed", id="R6750-2-dollar"),
        pytest.param(header("Bearer a,b"), None, "Malformed", id="R6750-2-comma"),
        pytest.param(header("Bearer a=b"), None, "Malformed", id="R6750-2-inner-equals"),
        pytest.param(header("Bearer abc "), None, "Malformed", id="R6750-2-trailing-space"),
        pytest.param(header("Bearer a\u200bb"), None, "Malformed", id="P8-zero-width-space"),
        pytest.param(header("Bearer a\u00a0b"), None, "Malformed", id="P8-nbsp-in-token"),
        pytest.param(header("Bearer ab\x00c"), None, "Malformed", id="P9-nul"),
        pytest.param(header("Bearer abc\r\n"), None, "Malformed", id="P9-crlf"),
        pytest.param(header("Bearer abc\nX-Admin: 1"), None, "Malformed", id="P9-lf"),
        pytest.param(header("Bearer aaa=.bbb.ccc"), None, "Malformed", id="P11-inner-padding"),
        pytest.param(
            header('Bearer {"payload":"eyJ","signatures":[{"signature":"c2ln"}]}'),
            None,
            "Malformed",
            id="P12-json-serialization",
        ),
        pytest.param(
            header("Bearer a", "Bearer b"), None, "Multiple Authorization", id="R9110-4-P1-lines"
        ),
        pytest.param(
            header("Bearer a", "Basic dXNlcjpwYXNz"),
            None,
            "Multiple Authorization",
            id="R6750-15-P1-mixed-lines",
        ),
        pytest.param(header("Bearer a, Bearer b"), None, "Malformed", id="R9110-4-P2-joined"),
        pytest.param(
            header("Bearer " + "a" * MAX_AUTHORIZATION_LENGTH), None, "too large", id="P10-8KiB"
        ),
        pytest.param(
            RequestView("GET", "/", (f"Bearer {JWT}",), query_string=f"access_token={JWT}"),
            QUERY_ON,
            MULTIPLE_METHODS,
            id="R6750-3-P3-header-and-query",
        ),
        pytest.param(
            RequestView("GET", "/", (f"Bearer {JWT}",), query_string=f"access_token={JWT}"),
            None,
            MULTIPLE_METHODS,
            id="R6750-3-P3-header-and-disabled-query",
        ),
        pytest.param(
            post(f"access_token={JWT}".encode(), FORM, f"Bearer {JWT}"),
            BODY_ON,
            MULTIPLE_METHODS,
            id="R6750-3-P3-header-and-body",
        ),
        pytest.param(
            RequestView(
                "POST",
                "/",
                query_string=f"access_token={JWT}",
                content_type=FORM,
                form_body=f"access_token={JWT}".encode(),
            ),
            ALL_ON,
            MULTIPLE_METHODS,
            id="R6750-3-query-and-body",
        ),
        pytest.param(
            RequestView("GET", "/", (f"Bearer {JWT}",), query_string=f"access%5Ftoken={JWT}"),
            QUERY_ON,
            MULTIPLE_METHODS,
            id="R6750-3-percent-encoded-name",
        ),
        pytest.param(
            RequestView("GET", "/", query_string="access_token=a&access_token=b"),
            QUERY_ON,
            "Repeated",
            id="R6750-6-P4-query",
        ),
        pytest.param(
            post(b"access_token=a&access_token=b"), BODY_ON, "Repeated", id="R6750-6-P4-body"
        ),
        pytest.param(
            RequestView("GET", "/", query_string="access_token=a%20b"),
            QUERY_ON,
            "Malformed access_token",
            id="R6750-2-query-not-b64token",
        ),
        pytest.param(
            post("access_token=abc&name=caf\u00e9".encode()),
            BODY_ON,
            "not ASCII",
            id="R6750-5-non-ascii-body",
        ),
    ],
)
def test_invalid_request(
    request_view: RequestView, methods: TokenMethods | None, description: str
) -> None:
    with pytest.raises(InvalidRequest, match=description) as raised:
        extract_credentials(request_view, methods or TokenMethods())
    assert (raised.value.code, raised.value.status) == ("invalid_request", 400)


def test_p10_header_at_the_limit_is_accepted() -> None:
    line = "Bearer " + "a" * (MAX_AUTHORIZATION_LENGTH - len("Bearer "))
    assert len(line) == MAX_AUTHORIZATION_LENGTH
    assert extract_credentials(header(line)) == Credentials(line[7:])


def test_p10_limit_is_configurable() -> None:
    with pytest.raises(InvalidRequest, match="too large"):
        extract_credentials(header("Bearer abcdef"), TokenMethods(max_length=12))


def test_r6750_4_r6750_7_only_the_header_method_is_on_by_default() -> None:
    assert (TokenMethods().query, TokenMethods().body) == (False, False)


def test_p6_r6750_21_request_view_has_no_cookie_channel() -> None:
    names = {f.name for f in dataclasses.fields(RequestView)}
    assert not any("cookie" in name.lower() for name in names)


def test_r6750_15_invalid_request_challenge_shape() -> None:
    with pytest.raises(InvalidRequest) as raised:
        extract_credentials(
            RequestView("GET", "/", (f"Bearer {JWT}",), query_string=f"access_token={JWT}")
        )
    decision = deny(raised.value, ChallengeSettings(realm="api"))
    assert decision.www_authenticate is not None
    [challenge] = parse_www_authenticate(decision.www_authenticate)
    assert (decision.status, challenge.scheme, dict(challenge.params)) == (
        400,
        "Bearer",
        {
            "realm": "api",
            "error": "invalid_request",
            "error_description": "Multiple methods used to include access token",
        },
    )


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("Bearer secret-token with-space", id="R6750-21-malformed"),
        pytest.param("Bearer secret-token-" + "x" * 9000, id="R6750-21-oversized"),
    ],
)
def test_r6750_21_token_never_reaches_the_response(line: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        extract_credentials(header(line))
    decision = deny(raised.value, ChallengeSettings(realm="api"))
    exposed = (decision.www_authenticate or "") + (decision.problem_json() or b"").decode()
    assert "secret-token" not in exposed
