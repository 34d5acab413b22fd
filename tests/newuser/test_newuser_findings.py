"""Findings from following the README as a newcomer: the narration of `stepup-mfa demo`."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from stepup_mfa._demo import Narrator

ROOT = Path(__file__).resolve().parents[2]


def test_countdown_says_how_long_to_wait_and_when_the_window_has_passed() -> None:
    """The wait is one second longer than the window, so it must not read "11 s left" of a
    10 s window, and a log (not a terminal) must also say when the window has passed."""
    out = io.StringIO()
    Narrator(out).countdown(11, sleep=lambda seconds: None)
    lines = out.getvalue().splitlines()
    assert lines == [
        "    11 s to wait",
        "    10 s to wait",
        "    5 s to wait",
        "    the window has passed",
    ]


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("stepup-mfa")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "stepup_mfa"]
    return [*command, "demo", "--serve", "--token-mode", "introspection"]


def _accepts_connections(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1.0):
            return True
    except OSError:
        return False


def test_demo_serve_prints_how_to_get_a_token_and_stops_the_example_on_sigterm() -> None:
    """``demo --serve`` tells the user how to get tokens (bearer and DPoP-bound) for the chosen
    token mode, and SIGTERM (like Ctrl-C) stops the example app too instead of leaving it
    running."""
    process = subprocess.Popen(
        _serve_command(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any(line.startswith("  httpx.get(") for line in list(lines)):
            assert time.monotonic() < deadline, "".join(lines)
            assert process.poll() is None, "".join(lines)
            time.sleep(0.1)
        transcript = "".join(list(lines))
        assert "then: curl" in transcript, transcript
        assert "from stepup_mfa.devidp import login" in transcript
        assert 'resource="https://opaque.api.example.com"' in transcript
        assert "from stepup_mfa.testing import DPoPKey" in transcript and "dpop=key" in transcript
        api_url = next(
            line.rsplit(" ", 1)[-1].strip() for line in lines if line.startswith("API (")
        )
        assert _accepts_connections(api_url)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while _accepts_connections(api_url) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _accepts_connections(api_url), "the example app outlived demo --serve"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(timeout=10)
        stdout.close()
