"""DPoP fixtures (helpers in dpop_kit.py)."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
from tests.dpop.dpop_kit import API, NOW, Client, StubVerifier

from stepup_mfa import DPoP, Guard


@pytest.fixture
def stub() -> StubVerifier:
    return StubVerifier()


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture
def make_guard(stub: StubVerifier) -> Generator[Callable[..., Guard], None, None]:
    def make(**dpop_options: Any) -> Guard:
        return Guard(stub, clock=lambda: NOW, dpop=DPoP(API, **dpop_options))

    yield make
