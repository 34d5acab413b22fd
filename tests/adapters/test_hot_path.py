"""Every adapter answers a token seen before from the Guard's remembered verdict (PERF-1).

After the first request (verified) and the second (a cached hit, whose verdict is kept), the
adapters ask ``Guard.recall`` and never build a request view or run ``check``/``acheck``; the
answer, the principal handed to the handler and every refusal stay what the full path gives.
"""

from __future__ import annotations

from typing import Any

import pytest
from adapter_apps import ADAPTERS, BUILDERS, MakeGuard

from stepup_mfa import Guard
from stepup_mfa.testing import TokenFactory


def counting(guard: Guard) -> list[str]:
    """Record every call of the Guard's full path."""
    calls: list[str] = []
    check, acheck = guard.check, guard.acheck

    def counted_check(*args: Any) -> Any:
        calls.append("check")
        return check(*args)

    async def counted_acheck(*args: Any) -> Any:
        calls.append("acheck")
        return await acheck(*args)

    guard.check = counted_check  # type: ignore[method-assign]
    guard.acheck = counted_acheck  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_perf_1_a_token_seen_before_skips_the_full_path(
    adapter: str, make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    guard = make_guard()
    calls = counting(guard)
    call = BUILDERS[adapter](guard, "async")
    good = [("Authorization", "Bearer " + tokens.mfa_token(scope="cats:read", auth_age=10))]
    replies = [call("GET", "/cats/", good) for _ in range(4)]
    assert [r.status for r in replies] == [200] * 4
    assert all(b'"sub"' in r.body and b"null" not in r.body for r in replies)
    assert len(calls) == 2  # verified, then remembered: the last two were recalled
    weak = [("Authorization", "Bearer " + tokens.password_token(scope="cats:read"))]
    assert [call("GET", "/cats/", weak).status for _ in range(3)] == [401] * 3
    assert call("GET", "/cats/", [*good, *weak]).status == 400  # two lines: the full path
    assert call("GET", "/cats/?access_token=x", good).status == 400  # two ways: the full path


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_perf_1_with_a_decision_hook_every_request_takes_the_full_path(
    adapter: str, make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    seen: list[bool] = []
    guard = make_guard(on_decision=lambda request, policy, decision: seen.append(decision.allowed))
    call = BUILDERS[adapter](guard, "async")
    good = [("Authorization", "Bearer " + tokens.mfa_token(scope="cats:read", auth_age=10))]
    assert [call("GET", "/cats/", good).status for _ in range(4)] == [200] * 4
    assert seen.count(True) >= 4


def test_perf_1_bind_6_the_fastapi_dependency_is_the_scheme_and_documents_it(guard: Guard) -> None:
    """One dependency per request (it is itself the bearer scheme), documented as before: the
    scheme, the route's security requirement with Security scopes, and the 401/403 answers."""
    from fastapi import Depends, FastAPI, Security
    from fastapi.security.base import SecurityBase

    from stepup_mfa import Policy, Principal
    from stepup_mfa.integrations.fastapi import StepUp

    app = FastAPI()
    stepup = StepUp(guard)
    stepup.install(app)
    dependency = stepup.dependency(Policy(scopes="cats:read"))
    assert isinstance(dependency, SecurityBase)

    @app.get("/a")
    async def a(principal: Principal = Depends(dependency)) -> int:  # noqa: B008
        return 1

    @app.get("/b")
    async def b(principal: Principal = Security(dependency, scopes=["admin"])) -> int:  # noqa: B008
        return 1

    @app.get("/c")
    async def c(principal: Principal = Depends(stepup)) -> int:  # noqa: B008
        return 1

    document = app.openapi()
    operations = {path: document["paths"][path]["get"] for path in ("/a", "/b", "/c")}
    assert [op["security"] for op in operations.values()] == [
        [{"bearer": []}],
        [{"bearer": ["admin"]}],
        [{"bearer": []}],
    ]
    assert all({"401", "403"} <= set(op["responses"]) for op in operations.values())
    assert document["components"]["securitySchemes"] == {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "OAuth 2.0 access token (RFC 6750)",
        }
    }
