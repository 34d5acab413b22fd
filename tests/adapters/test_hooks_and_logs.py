"""Every adapter reports each decision to ``on_decision`` and never logs the token (R6750-21)."""

from __future__ import annotations

import logging

import pytest
from adapter_apps import ADAPTERS, BUILDERS, MakeGuard

from stepup_mfa import Decision, Policy, RequestView
from stepup_mfa.testing import TokenFactory


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_on_decision_sees_the_request(
    adapter: str, make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    seen: list[tuple[str, str | None, int]] = []

    def hook(request: RequestView, policy: Policy, decision: Decision) -> None:
        seen.append((request.path, policy.name, decision.status))

    call = BUILDERS[adapter](make_guard(on_decision=hook), "async")
    call("GET", "/cats/", [("Authorization", "Bearer " + tokens.password_token())])
    assert seen == [("/cats/", "cats-mfa-60s", 401)]


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_refusals_are_logged_without_the_token(
    adapter: str, make_guard: MakeGuard, tokens: TokenFactory, caplog: pytest.LogCaptureFixture
) -> None:
    token = tokens.password_token(scope="cats:read")
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    call = BUILDERS[adapter](make_guard(), "sync")
    with caplog.at_level(logging.DEBUG):
        for value in (token, forged):
            call("GET", "/cats/", [("Authorization", "Bearer " + value)])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused GET /cats/: policy=cats-mfa-60s status=401" in logged
    assert token not in logged and forged not in logged
    assert token[-20:] not in caplog.text and forged[-20:] not in caplog.text
