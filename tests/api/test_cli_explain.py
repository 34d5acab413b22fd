"""``stepup-mfa explain``: a client developer pastes a challenge and reads what to do."""

from __future__ import annotations

import pytest

from stepup_mfa.cli import main

STEP_UP = (
    'Bearer realm="catsdogs", error="insufficient_user_authentication", '
    'error_description="More recent authentication is required", '
    'acr_values="urn:example:acr:mfa urn:example:acr:hwk", max_age="60"'
)


def run(capsys: pytest.CaptureFixture[str], header: str) -> tuple[int, str, str]:
    status = main(["explain", header])
    out, err = capsys.readouterr()
    return status, out, err


def test_R9470_3_step_up_lists_acr_values_in_order_and_the_next_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _ = run(capsys, STEP_UP)
    assert status == 0
    assert "acr_values: urn:example:acr:mfa urn:example:acr:hwk" in out
    assert "max_age: 60" in out
    assert (
        "next authorization request adds: "
        "acr_values=urn%3Aexample%3Aacr%3Amfa+urn%3Aexample%3Aacr%3Ahwk&max_age=60"
    ) in out


def test_insufficient_scope_names_the_scopes(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, 'Bearer error="insufficient_scope", scope="cats:read"')
    assert status == 0
    assert "scope: cats:read" in out
    assert "next authorization request adds: scope=cats%3Aread" in out


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ('Bearer realm="api"', "send an access token"),
        ('Bearer error="invalid_token"', "get a new one"),
        ('Bearer error="invalid_request"', "do not retry it as is"),
    ],
)
def test_each_error_is_explained(
    capsys: pytest.CaptureFixture[str], header: str, words: str
) -> None:
    status, out, _ = run(capsys, header)
    assert status == 0 and words in out


def test_a_malformed_header_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, 'Bearer realm="a" error="b"')
    assert status == 2 and out == ""
    assert "not a WWW-Authenticate value" in err
