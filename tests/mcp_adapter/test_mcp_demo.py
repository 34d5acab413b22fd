"""``stepup-mfa demo --app mcp``: the MCP scenario end to end, with the SDK client."""

from __future__ import annotations

import io

import pytest

from stepup_mfa import cli
from stepup_mfa._demo import run_demo


def test_MCP_7_demo_app_mcp_steps_up_twice_and_exits_zero() -> None:
    out = io.StringIO()
    # A 3 s window: with 1 s the step-up's own retry could fall outside it on a loaded machine.
    assert run_demo(app="mcp", max_age=3, out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert text.count("-> 401 Unauthorized") == 2  # once at first, once after the window
    assert text.count('error="insufficient_user_authentication"') == 2
    assert 'max_age="3"' in text and "resource_metadata=" in text
    assert "All 6 steps answered" in text


@pytest.mark.parametrize("flag", [["--serve"], ["--gateway", "nginx"]])
def test_demo_app_mcp_refuses_options_it_has_no_use_for(
    flag: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["demo", "--app", "mcp", *flag]) == 2
    assert "--app mcp" in capsys.readouterr().err
