"""R9470-14 in the example apps: ``STEPUP_STRICT_ACR=1`` reaches the Guard, so an MFA acr value
the issuer does not list stops the app at start-up; without it the app starts with a warning.

The Starlette example checks its route table in its real lifespan, against a local issuer over
HTTP; the Flask example, whose policies are decorators, checks them when the app is created.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from stepup_mfa import ConfigurationError, PolicyWarning, StepUpSettings
from stepup_mfa._demo_apps.flask_app.app import create_app as create_flask_app
from stepup_mfa._demo_apps.starlette_app.app import create_app as create_starlette_app
from stepup_mfa.adapters.flask import EXTENSION_KEY
from stepup_mfa.testing import FakeIssuer

TYPO = "urn:stepup-mfa:acr:mfaa"


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    with FakeIssuer("https://api.example.com") as running:
        yield running


def settings(issuer: FakeIssuer, strict: str) -> StepUpSettings:
    return StepUpSettings.from_env(
        {
            "STEPUP_ISSUER": issuer.issuer,
            "STEPUP_AUDIENCE": "https://api.example.com",
            "STEPUP_MFA_ACR": TYPO,
            "STEPUP_STRICT_ACR": strict,
        }
    )


def test_R9470_14_strict_acr_stops_the_starlette_example_at_start_up(issuer: FakeIssuer) -> None:
    app = create_starlette_app(settings(issuer, "1"))
    with pytest.raises(Exception) as raised, TestClient(app):
        pass
    assert TYPO in str(raised.value)


def test_R9470_14_without_strict_acr_the_starlette_example_starts_with_a_warning(
    issuer: FakeIssuer,
) -> None:
    app = create_starlette_app(settings(issuer, "0"))
    with pytest.warns(PolicyWarning, match=TYPO), TestClient(app) as client:
        assert client.get("/").status_code == 200


def test_R9470_14_strict_acr_reaches_the_flask_example(issuer: FakeIssuer) -> None:
    with warnings.catch_warnings(), pytest.raises(ConfigurationError, match=TYPO):
        warnings.simplefilter("ignore", PolicyWarning)
        create_flask_app(settings(issuer, "1"))


def test_R9470_14_without_strict_acr_the_flask_example_warns(issuer: FakeIssuer) -> None:
    with pytest.warns(PolicyWarning, match=TYPO):
        app = create_flask_app(settings(issuer, "0"))
    try:
        assert app.test_client().get("/").status_code == 200
    finally:
        app.extensions[EXTENSION_KEY].close()
