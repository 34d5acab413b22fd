"""One rule, one home (issue 11): the checks that had drifted into copies exist once.

A source scan, so that a new copy fails here instead of drifting again: the b64token syntax, the
loopback test, the strict JSON decoder, the time-validity and audience rules, the "seconds"
configuration check, base64url decoding of token segments and the absolute-URI syntax.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "stepup_mfa"


def _homes(needle: str) -> list[str]:
    return sorted(
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if "devidp" not in path.parts and needle in path.read_text(encoding="utf-8")
    )


@pytest.mark.parametrize(
    ("needle", "home"),
    [
        pytest.param(r'r"[A-Za-z0-9\-._~+/]+=*"', "_core/credentials.py", id="R6750-2-b64token"),
        pytest.param("ipaddress.ip_address(", "_verify/discovery.py", id="R8414-4-loopback"),
        pytest.param("def is_secure_url(", "_verify/discovery.py", id="R8414-4-secure-url"),
        pytest.param("json.JSONDecoder(", "_verify/strict_json.py", id="T9-strict-json"),
        pytest.param("def check_times(", "_core/validity.py", id="R7519-2-time-validity"),
        pytest.param(".isdisjoint(audience)", "_core/validity.py", id="R9068-5-audience"),
        pytest.param("def seconds_option(", "_core/validity.py", id="R9470-4-seconds"),
        pytest.param("a2b_base64(", "_verify/jws.py", id="P11-base64url"),
        pytest.param("MAX_LEEWAY = ", "_core/validity.py", id="R9068-7-leeway-bound"),
        pytest.param(r"[A-Za-z][A-Za-z0-9+.\-]*:", "_core/challenge.py", id="R6750-14-uri"),
        pytest.param("def is_fresh(", "_core/requirements.py", id="R9470-10-freshness"),
        pytest.param("def assess(", "_core/requirements.py", id="R9470-1-requirements"),
        pytest.param("def certificate_thumbprint(", "_core/decision.py", id="R8705-1-thumbprint"),
    ],
)
def test_each_rule_has_one_home(needle: str, home: str) -> None:
    assert _homes(needle) == [home]
