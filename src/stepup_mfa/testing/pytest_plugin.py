"""pytest plugin registered through the ``pytest11`` entry point.

It is loaded into every pytest run of a project that has stepup-mfa installed, so it imports
nothing heavy at import time and only defines fixtures; each fixture imports what it needs.

Fixtures (function scope, so no state leaks between tests):

``stepup_clock``
    A :class:`~stepup_mfa.testing.FrozenClock`; pass it to ``Guard(..., clock=stepup_clock)``.
``stepup_audience``
    The audience tokens are minted for (``https://api.example.com``); override it in a
    ``conftest.py`` to use your API's identifier.
``stepup_issuer``
    A running :class:`~stepup_mfa.testing.FakeIssuer` on 127.0.0.1 that follows ``stepup_clock``.
``stepup_tokens``
    The issuer's :class:`~stepup_mfa.testing.TokenFactory` (``iss`` = the issuer's URL).
``stepup_dev_idp``
    A running development authorization server (needs the ``devidp`` extra: flask, segno).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from stepup_mfa.devidp import DevIdP
    from stepup_mfa.testing import FakeIssuer, FrozenClock, TokenFactory


@pytest.fixture
def stepup_clock() -> FrozenClock:
    """A frozen clock starting at the current second."""
    from stepup_mfa.testing.clock import FrozenClock

    return FrozenClock()


@pytest.fixture
def stepup_audience() -> str:
    """The audience of minted tokens; override to match your API."""
    return "https://api.example.com"


@pytest.fixture
def stepup_issuer(stepup_clock: FrozenClock, stepup_audience: str) -> Iterator[FakeIssuer]:
    """A fake issuer serving metadata, JWKS and introspection on a free loopback port."""
    from stepup_mfa.testing.issuer import FakeIssuer

    with FakeIssuer(stepup_audience, clock=stepup_clock) as issuer:
        yield issuer


@pytest.fixture
def stepup_tokens(stepup_issuer: FakeIssuer) -> TokenFactory:
    """Mints access tokens signed by the running fake issuer's keys."""
    return stepup_issuer.tokens


@pytest.fixture
def stepup_dev_idp(stepup_clock: FrozenClock, stepup_audience: str) -> Iterator[DevIdP]:
    """A running development authorization server that follows ``stepup_clock``."""
    from stepup_mfa.devidp import DevIdP

    with DevIdP(audience=stepup_audience, clock=stepup_clock) as idp:
        yield idp
