"""Assertion helpers parse WWW-Authenticate: order, quoting and case do not matter; meaning does."""

from __future__ import annotations

from typing import Any

import pytest

from stepup_mfa.testing import (
    assert_insufficient_scope,
    assert_invalid_token,
    assert_step_up,
    assert_unauthenticated,
    assert_unavailable,
)

STEP_UP = (
    'Bearer realm="api", error="insufficient_user_authentication", '
    'error_description="More recent authentication is required", '
    'acr_values="urn:example:acr:hwk urn:example:acr:mfa", max_age="60"'
)


class FakeHeaders:
    def __init__(self, values: list[str]) -> None:
        self._values = values

    def getlist(self, name: str) -> list[str]:
        return self._values if name.lower() == "www-authenticate" else []


class FakeResponse:
    def __init__(self, status_code: int, *values: str) -> None:
        self.status_code = status_code
        self.headers = FakeHeaders(list(values))


@pytest.mark.parametrize(
    "header",
    [
        STEP_UP,
        # reordered, token-form max_age, upper-case scheme and names (RFC 9110 §11, R9470-4)
        'BEARER MAX_AGE=60, Acr_Values="urn:example:acr:hwk urn:example:acr:mfa", '
        'ERROR="insufficient_user_authentication"',
    ],
)
def test_step_up_matches_by_meaning_r9470_1_r9470_4(header: str) -> None:
    """Checklist: R9470-1, R9470-4."""
    challenge = assert_step_up(
        401, header, max_age=60, acr_values=["urn:example:acr:hwk", "urn:example:acr:mfa"]
    )
    assert challenge.max_age == 60


@pytest.mark.parametrize(
    ("status", "expected", "message"),
    [
        (403, {}, "expected status 401"),
        (401, {"max_age": 30}, "max_age"),
        (401, {"acr_values": "urn:example:acr:mfa urn:example:acr:hwk"}, "acr_values"),
        (401, {"scope": None}, None),
    ],
)
def test_step_up_fails_on_a_different_answer_r9470_2_r9470_3(
    status: int, expected: dict[str, Any], message: str | None
) -> None:
    """Checklist: R9470-2, R9470-3."""
    if message is None:  # absent scope asserted absent: passes
        assert_step_up(status, STEP_UP, **expected)
        return
    with pytest.raises(AssertionError, match=message):
        assert_step_up(status, STEP_UP, **expected)


def test_none_asserts_a_parameter_is_absent() -> None:
    with pytest.raises(AssertionError, match="expected no 'max_age'"):
        assert_step_up(401, STEP_UP, max_age=None)


def test_invalid_token_must_not_disclose_step_up_hints_r9470_12() -> None:
    """Checklist: R9470-12."""
    leaky = 'Bearer error="invalid_token", acr_values="urn:example:acr:mfa"'
    with pytest.raises(AssertionError, match="acr_values"):
        assert_invalid_token(401, leaky)
    assert_invalid_token(401, 'Bearer realm="api", error="invalid_token"')


def test_response_objects_are_read_including_several_header_lines() -> None:
    response = FakeResponse(401, 'DPoP algs="ES256"', STEP_UP)
    assert_step_up(response, max_age=60)


def test_dpop_scheme_is_selected_by_name_r9470_7() -> None:
    """Checklist: R9470-7."""
    header = 'DPoP error="insufficient_user_authentication", max_age="60", algs="ES256"'
    assert_step_up(401, header, scheme="DPoP", max_age=60)
    with pytest.raises(AssertionError, match="Bearer challenge"):
        assert_step_up(401, header, max_age=60)


def test_insufficient_scope_compares_scopes_as_a_set_r6750_17() -> None:
    """Checklist: R6750-17."""
    header = 'Bearer error="insufficient_scope", scope="cats:read dogs:read"'
    assert_insufficient_scope(403, header, scope=["dogs:read", "cats:read"])


def test_unauthenticated_challenge_names_no_error_r6750_9() -> None:
    """Checklist: R6750-9."""
    assert_unauthenticated(401, 'Bearer realm="api"', realm="api")
    with pytest.raises(AssertionError, match="error=None"):
        assert_unauthenticated(401, 'Bearer realm="api", error="invalid_token"')


@pytest.mark.parametrize(
    ("status", "header", "ok"),
    [(503, "", True), (503, 'Bearer error="invalid_token"', False), (401, "", False)],
)
def test_unavailable_never_blames_the_token_r7662_3(status: int, header: str, ok: bool) -> None:
    """Checklist: R7662-3."""
    if ok:
        assert_unavailable(status, header)
    else:
        with pytest.raises(AssertionError):
            assert_unavailable(status, header)


def test_missing_header_is_reported() -> None:
    with pytest.raises(AssertionError, match="expected a WWW-Authenticate header"):
        assert_step_up(401, "")
