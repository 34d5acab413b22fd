"""The README's quick starts are executed, so they cannot rot.

The code blocks between ``<!-- adapters:start -->`` and ``<!-- adapters:end -->`` are run as
written: first the set-up block, then each framework's block on top of it. The set-up block's
Guard points at an example issuer, so before a framework block runs its ``guard`` is swapped for
one that trusts the test issuer; the snippets themselves are not edited.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import flask
import pytest
from adapter_apps import MakeGuard, TestClient

import stepup_mfa
from stepup_mfa.testing import TokenFactory

README = Path(__file__).resolve().parents[2] / "README.md"
ACR = "urn:example:acr:mfa"


def blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    region = text.split("<!-- adapters:start -->", 1)[1].split("<!-- adapters:end -->", 1)[0]
    return re.findall(r"```python\n(.*?)```", region, flags=re.DOTALL)


SETUP, *FRAMEWORK_BLOCKS = blocks()
NAMES = ["flask", "starlette", "fastapi"]


def test_there_is_one_block_per_framework() -> None:
    assert [name for name in NAMES if any(name in block for block in FRAMEWORK_BLOCKS)] == NAMES


@pytest.mark.parametrize("block", [SETUP, *FRAMEWORK_BLOCKS], ids=["setup", *NAMES])
def test_each_block_is_under_ten_lines(block: str) -> None:
    assert len([line for line in block.splitlines() if line.strip()]) < 10


def run(block: str, make_guard: MakeGuard) -> Any:
    namespace: dict[str, Any] = {"__name__": "readme"}
    exec(SETUP, namespace)
    namespace["guard"] = make_guard(realm="api")
    exec(block, namespace)
    app = namespace["app"]
    return app.test_client() if isinstance(app, flask.Flask) else TestClient(app)


@pytest.mark.parametrize("block", FRAMEWORK_BLOCKS, ids=NAMES)
def test_quick_start_admits_a_fresh_mfa_token(
    block: str, make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    token = tokens.mfa_token(acr=ACR, auth_age=30)
    response = run(block, make_guard).get("/cats/", headers={"Authorization": "Bearer " + token})
    body = response.data if isinstance(response, flask.Response) else response.content
    assert (response.status_code, json.loads(body)) == (200, {"sub": "user-1"})


@pytest.mark.parametrize("block", FRAMEWORK_BLOCKS, ids=NAMES)
def test_quick_start_steps_up_a_stale_one(
    block: str, make_guard: MakeGuard, tokens: TokenFactory
) -> None:
    token = tokens.mfa_token(acr=ACR, auth_age=61)
    response = run(block, make_guard).get("/cats/", headers={"Authorization": "Bearer " + token})
    (challenge,) = stepup_mfa.parse_www_authenticate(response.headers["WWW-Authenticate"])
    assert (response.status_code, challenge.error, challenge.max_age) == (
        401,
        "insufficient_user_authentication",
        60,
    )
