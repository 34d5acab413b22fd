"""``stepup-mfa demo --app mcp``: per-tool step-up on an MCP server, with the official SDK client.

Starts ``examples/mcp_server`` (the copy this package ships) as its own process, configured only
through its ``STEPUP_*`` variables, against the in-process development authorization server, then
plays an MCP client whose HTTP client carries
:class:`~stepup_mfa.integrations.mcp.McpStepUpAuth`: ``get_balance`` works with a password login;
``transfer_money`` is refused with the step-up challenge, the auth flow re-authenticates with a
TOTP code and the retry succeeds; after the MFA window the same happens again. Every answer is
checked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._demo import (
    DEMO_USER,
    DemoFailure,
    Narrator,
    _describe,
    demo_app_file,
    example_environment,
    run_example,
)
from ._settings import TokenMode

if TYPE_CHECKING:
    from .devidp import DevIdP, DevIdPClient
    from .integrations.mcp import StepUpNeeded


def find_mcp_example() -> Path:
    """``mcp_server/app.py`` of the example apps this package ships (``examples/mcp_server``)."""
    return demo_app_file("mcp_server", "app.py")


def run_mcp_demo(narrator: Narrator, max_age: int, token_mode: TokenMode) -> int:
    """Run the MCP walkthrough against a fresh development server; return the exit status
    (a :class:`DemoFailure` propagates to ``run_demo``, which reports it)."""
    import anyio

    from .devidp import DevIdP, DevIdPClient

    example = find_mcp_example()
    with DevIdP(port=0) as idp:
        narrator.say(f"Authorization server (stepup-mfa dev-idp): {idp.issuer}")
        env = example_environment(idp, token_mode, max_age)
        with run_example(example, env) as api:
            narrator.say(
                f"MCP server (examples/mcp_server, {token_mode} tokens, transfer_money needs MFA "
                f"within {max_age} s): {api.url}/mcp"
            )
            with DevIdPClient(idp.issuer) as idp_client:
                try:
                    anyio.run(_scenario, idp, idp_client, narrator, api.url, max_age, token_mode)
                except DemoFailure:
                    raise
                except Exception as error:  # the SDK wraps what the auth flow raised
                    raise _failure_in(error) or DemoFailure(
                        f"the MCP client failed: {error!r}\n{api.output()}"
                    ) from error
    narrator.say(f"\nAll {narrator.step} steps answered as the scenario requires.")
    return 0


def _failure_in(error: BaseException, depth: int = 0) -> DemoFailure | None:
    """A :class:`DemoFailure` somewhere inside ``error`` (groups, causes), if any."""
    if isinstance(error, DemoFailure):
        return error
    if depth > 10:
        return None
    inner: list[BaseException] = list(getattr(error, "exceptions", ()))
    inner += [e for e in (error.__cause__, error.__context__) if e is not None]
    for each in inner:
        found = _failure_in(each, depth + 1)
        if found is not None:
            return found
    return None


async def _scenario(
    idp: DevIdP,
    idp_client: DevIdPClient,
    narrator: Narrator,
    url: str,
    max_age: int,
    token_mode: TokenMode,
) -> None:
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    from .devidp import LoginError
    from .integrations.mcp import McpStepUpAuth

    resource = idp.opaque_audience if token_mode == "introspection" else None
    password = idp.users[DEMO_USER].password

    def login(**kwargs: Any) -> str:
        try:
            tokens = idp_client.login(DEMO_USER, password, resource=resource, **kwargs)
        except LoginError as exc:
            raise DemoFailure(f"login failed: {exc}") from exc
        if resource is None:
            facts = _describe(tokens.unverified_claims(), time.time())
            narrator.say(f"    -> access token (JWT): {facts}")
        else:
            narrator.say("    -> access token (opaque; the server introspects it)")
        return tokens.access_token

    def totp() -> str:
        code = idp.totp_code(DEMO_USER)
        narrator.say(f"    (the user reads {code} from the authenticator app)")
        return code

    async def reauthenticate(needed: StepUpNeeded) -> str:
        narrator.say(
            f"    the auth flow reads the challenge and sends {DEMO_USER} back with "
            f"acr_values={' '.join(needed.acr_values)} max_age={needed.max_age}"
        )
        if idp.mfa_acr not in needed.acr_values or needed.max_age != max_age:
            raise DemoFailure(f"the challenge should ask for {idp.mfa_acr} within {max_age} s")

        def step_up() -> str:
            return login(acr_values=needed.acr_values, max_age=needed.max_age, totp=totp)

        token: str = await anyio.to_thread.run_sync(step_up)
        return token

    async def show(response: httpx2.Response) -> None:
        request = response.request
        if request.headers.get("mcp-method") != "tools/call":
            return  # the handshake and the event stream: not part of the story
        narrator.say(
            f"    POST /mcp  tools/call {request.headers.get('mcp-name')}  (Bearer <access token>)"
        )
        narrator.say(f"    -> {response.status_code} {response.reason_phrase}")
        challenge = response.headers.get("www-authenticate")
        if challenge:
            narrator.say(f"       WWW-Authenticate: {challenge}")

    narrator.title(f"{DEMO_USER} logs in with her password only")
    token = await anyio.to_thread.run_sync(login)
    auth = McpStepUpAuth(token, reauthenticate)

    async with (
        httpx2.AsyncClient(auth=auth, event_hooks={"response": [show]}, timeout=10) as http,
        Client(streamable_http_client(url + "/mcp", http_client=http)) as client,
    ):

        async def call(tool: str, arguments: dict[str, Any], check: Callable[[Any], bool]) -> None:
            result = await client.call_tool(tool, arguments)
            content = result.structured_content
            narrator.say(f"       result: {content}")
            if result.is_error or not check(content):
                raise DemoFailure(f"{tool} did not answer as expected: {result}")

        narrator.title("get_balance needs any valid token: the password login is enough")
        await call("get_balance", {}, lambda c: c["user"] != "unknown")

        transfer = {"payee": "bob", "amount_cents": 2500}
        narrator.title(
            "transfer_money wants fresh MFA: the server answers with a step-up challenge before "
            "the SDK dispatches, and the client's auth flow steps up and retries once"
        )
        await call("transfer_money", transfer, lambda c: c["sent_cents"] == 2500)
        if auth.reauthentications != 1:
            raise DemoFailure("the auth flow should have re-authenticated exactly once")

        narrator.title("The same MCP session goes on: a second transfer within the window")
        await call("transfer_money", transfer, lambda c: c["sent_cents"] == 2500)
        if auth.reauthentications != 1:
            raise DemoFailure("no re-authentication was needed within the window")

        narrator.title(f"Time passes: the {max_age} s MFA window runs out")
        await anyio.to_thread.run_sync(narrator.countdown, max_age + 1)
        narrator.title("transfer_money asks again; the auth flow re-authenticates with TOTP")
        await call("transfer_money", transfer, lambda c: c["sent_cents"] == 2500)
        if auth.reauthentications != 2:
            raise DemoFailure("the auth flow should have re-authenticated a second time")
