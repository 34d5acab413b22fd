"""``stepup-mfa demo --gateway nginx|caddy``: the seed's Testing section through the real proxy,
against the development authorization server, with TOTP step-up and a 2 s window (GW-2)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from gateway_stack import require_binary

from stepup_mfa._demo import run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_GW_2_demo_through_nginx_from_the_command_line() -> None:
    """GW-2, R9470-1, R9470-4: every step answers as the seed scenario requires, through nginx."""
    require_binary("nginx")
    result = subprocess.run(
        [sys.executable, "-m", "stepup_mfa", "demo", "--gateway", "nginx", "--max-age", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "catsdogs behind nginx and stepup-mfa gateway" in result.stdout
    assert "GET /catsdogs/cats/" in result.stdout
    assert "All 10 steps answered as the seed scenario requires." in result.stdout


def test_GW_2_demo_through_caddy() -> None:
    require_binary("caddy")
    out = io.StringIO()
    status = run_demo(max_age=2, gateway="caddy", out=out)
    transcript = out.getvalue()
    assert status == 0, transcript
    assert 'max_age="2"' in transcript
    assert "All 10 steps answered as the seed scenario requires." in transcript
