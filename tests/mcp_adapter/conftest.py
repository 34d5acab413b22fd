"""Fixtures for the MCP tests: a fake issuer, and the example bank server under uvicorn on
127.0.0.1 (one per session, in a thread, stopped at the end)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp_helpers import ServerThread

from stepup_mfa import StepUpSettings
from stepup_mfa.testing import MFA_ACR, FakeIssuer

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "https://api.example.com"


@pytest.fixture(scope="session")
def mcp_issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer(AUDIENCE) as issuer:
        yield issuer


@pytest.fixture(scope="session")
def bank_example() -> Any:
    sys.path.insert(0, str(ROOT / "examples/mcp_server"))
    try:
        import app as bank  # the example's module
    finally:
        sys.path.remove(str(ROOT / "examples/mcp_server"))
    return bank


@pytest.fixture(scope="session")
def bank_settings(mcp_issuer: FakeIssuer) -> StepUpSettings:
    return StepUpSettings(issuer=mcp_issuer.issuer, audience=AUDIENCE, mfa_acr=MFA_ACR)


@pytest.fixture(scope="session")
def bank(bank_example: Any, bank_settings: StepUpSettings) -> Iterator[ServerThread]:
    with ServerThread(bank_example.create_app(bank_settings)) as server:
        yield server
