"""Usage errors of the command repeat no value: any of them may be a token (DOCTOR-4)."""

from __future__ import annotations

import pytest

from stepup_mfa.cli import without_values

SECRET = "kSecretOpaqueTokenValue0123456789abcdefXYZ"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            f"unrecognized arguments: -{SECRET}",
            "unrecognized arguments: (1 value not repeated here)",
        ),
        (
            f"unrecognized arguments: --bogus=1 {SECRET} --{SECRET}",
            "unrecognized arguments: --bogus (2 values not repeated here)",
        ),
        (
            f"argument --token-mode: invalid choice: '{SECRET}' "
            "(choose from 'jwt', 'introspection')",
            "argument --token-mode: invalid choice (the value is not repeated here) "
            "(choose from 'jwt', 'introspection')",
        ),
        (
            f"argument --mfa-max-age: invalid int value: '{SECRET}'",
            "argument --mfa-max-age: invalid int value (the value is not repeated here)",
        ),
        (
            "the following arguments are required: COMMAND",
            "the following arguments are required: COMMAND",
        ),
    ],
    ids=["dash-token", "option-kept", "invalid-choice", "invalid-int", "untouched"],
)
def test_DOCTOR_4_usage_errors_repeat_no_value(message: str, expected: str) -> None:
    assert without_values(message) == expected
