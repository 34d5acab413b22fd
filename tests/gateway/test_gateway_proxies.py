"""The seed scenario, the path-spelling table and the identity headers through real nginx and
real Caddy, configured as ``examples/gateway`` documents (only the ports changed).

Every refusal is compared with the library's in-process answer to the same request (the raw WSGI
middleware with the same table, realm and issuer): the same status, the same ``WWW-Authenticate``
and ``Retry-After`` (GW-1).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gateway_stack import PROXIES, Reference, Response, World, bearer, request

from stepup_mfa.testing import MFA_ACR, PASSWORD_ACR
from stepup_mfa.testing.assertions import (
    assert_insufficient_scope,
    assert_invalid_token,
    assert_step_up,
    assert_unauthenticated,
)


def same_as_in_process(
    got: Response,
    reference: Callable[..., Reference],
    target: str,
    headers: dict[str, str],
    *,
    down: bool = False,
) -> None:
    """GW-1: the client sees what an in-process adapter would have sent."""
    want = reference(target, headers, down=down)
    assert got.status == want.status, got
    if want.status != 200:
        assert got.header("WWW-Authenticate") == want.www_authenticate
        assert got.header("Retry-After") == want.retry_after


@pytest.mark.parametrize("proxy", PROXIES)
def test_GW_2_seed_scenario_through_the_real_proxy(
    proxy: str, world: World, reference: Callable[..., Reference]
) -> None:
    """GW-2, GW-1, R9470-1, R9470-4: anonymous, authenticated, MFA within the window, the window
    running out (a token whose MFA is 61 s old), re-authentication."""
    stack = world.stacks[proxy]
    tokens = world.issuer.tokens

    def step(target: str, token: str | None, handler: str | None) -> Response:
        headers = bearer(token)
        got = stack.get(target, headers)
        same_as_in_process(got, reference, target, headers)
        assert got.handler == handler, got
        return got

    index = step("/catsdogs/", None, "index")
    assert index.page is not None and index.page["identity"] == dict.fromkeys(
        ("sub", "scopes", "acr", "amr", "auth_time")
    )
    assert_unauthenticated(
        step("/catsdogs/dogs/", None, None).status,
        stack.get("/catsdogs/dogs/").header("WWW-Authenticate"),
    )
    dogs = step("/catsdogs/dogs/", tokens.password_token(), "dogs")
    assert dogs.page is not None
    assert dogs.page["identity"]["sub"] == "user-1"  # type: ignore[index]
    assert dogs.page["identity"]["acr"] == PASSWORD_ACR  # type: ignore[index]

    password_at_cats = step("/catsdogs/cats/", tokens.password_token(), None)
    assert_step_up(
        password_at_cats.status,
        password_at_cats.header("WWW-Authenticate"),
        max_age=60,
        acr_values=MFA_ACR,
    )
    cats = step("/catsdogs/cats/", tokens.mfa_token(scope="cats:read"), "cats")
    assert cats.page is not None
    identity = cats.page["identity"]
    assert isinstance(identity, dict)
    assert identity["acr"] == MFA_ACR and identity["amr"] == "pwd otp"
    assert identity["scopes"] == "cats:read" and int(identity["auth_time"]) > 0

    stale = step("/catsdogs/cats/", tokens.mfa_token(auth_age=61), None)
    challenge = assert_step_up(
        stale.status, stale.header("WWW-Authenticate"), max_age=60, acr_values=MFA_ACR
    )
    assert challenge.params["error_description"] == "More recent authentication is required"
    step("/catsdogs/cats/", tokens.mfa_token(), "cats")  # re-authenticated


@pytest.mark.parametrize("proxy", PROXIES)
def test_GW_1_refusals_keep_their_challenge_through_the_proxy(
    proxy: str, world: World, reference: Callable[..., Reference]
) -> None:
    """GW-1: 401 invalid_token and 403 insufficient_scope reach the client with the Guard's
    challenge, as in-process."""
    stack = world.stacks[proxy]
    forged = bearer(world.issuer.tokens.mfa_token()[:-4] + "AAAA")
    got = stack.get("/catsdogs/cats/", forged)
    same_as_in_process(got, reference, "/catsdogs/cats/", forged)
    assert_invalid_token(got.status, got.header("WWW-Authenticate"))
    headers = bearer(world.issuer.tokens.password_token())
    got = stack.get("/catsdogs/admin/", headers)
    same_as_in_process(got, reference, "/catsdogs/admin/", headers)
    assert_insufficient_scope(got.status, got.header("WWW-Authenticate"), scope="catsdogs:admin")


@pytest.mark.parametrize("proxy", PROXIES)
def test_GW_7_an_outage_is_a_503_for_the_client(
    proxy: str, world: World, reference: Callable[..., Reference]
) -> None:
    """GW-7: the gateway's 503 (the authorization server cannot be reached) reaches the client
    as a 503 with Retry-After, nginx's mapping of unknown statuses to 500 undone; an anonymous
    page needs no authorization server and still answers."""
    stack = world.down[proxy]
    # a token of the issuer this gateway trusts, whose keys cannot be fetched
    headers = bearer(world.issuer.tokens.password_token(issuer=world.dead_issuer))
    got = stack.get("/catsdogs/dogs/", headers)
    same_as_in_process(got, reference, "/catsdogs/dogs/", headers, down=True)
    assert got.status == 503 and got.header("Retry-After") == "5"
    assert got.handler is None
    assert stack.get("/catsdogs/").handler == "index"


SMUGGLED = [
    ("X-Auth-Subject", "admin"),
    ("x-auth-subject", "root"),
    ("X-Auth-Acr", MFA_ACR),
    ("X-Auth-Amr", "pwd otp"),
    ("X-Auth-Time", "9999999999"),
    ("X-Auth-Scopes", "catsdogs:admin"),
    ("X_Auth_Subject", "underscored"),
    ("X-Auth_Subject", "half-underscored"),
    ("x_auth_acr", "lower-underscored"),
]


@pytest.mark.parametrize("credential", ["none", "password"])
@pytest.mark.parametrize("proxy", PROXIES)
def test_GW_6_client_sent_identity_headers_never_reach_the_upstream(
    proxy: str, credential: str, world: World
) -> None:
    """GW-6: whatever identity headers the client sends, the upstream sees only the gateway's
    (none on an anonymous page, the token's on an authenticated one)."""
    stack = world.stacks[proxy]
    token = world.issuer.tokens.password_token() if credential == "password" else None
    target = "/catsdogs/dogs/" if token else "/catsdogs/"
    got = stack.get(target, [*bearer(token).items(), *SMUGGLED])  # type: ignore[arg-type]
    page = got.page
    assert page is not None, got
    seen = page["identity_headers"]
    assert isinstance(seen, list)
    smuggled_values = {value for _, value in SMUGGLED}
    assert not [pair for pair in seen if pair[1] in smuggled_values], seen
    names = [name.replace("_", "-") for name, _ in seen]
    assert len(names) == len(set(names)), seen  # one copy of each at most
    identity = page["identity"]
    assert isinstance(identity, dict)
    if token is None:
        assert set(identity.values()) == {None}
    else:
        assert identity["sub"] == "user-1" and identity["acr"] == PASSWORD_ACR


@pytest.mark.parametrize("proxy", PROXIES)
def test_GW_7_an_unreachable_gateway_fails_closed(proxy: str, world: World) -> None:
    """GW-7: with the gateway itself down, the proxy refuses every page, the anonymous one
    included (nginx: 503, mapped from the subrequest's 502; Caddy: its own 502)."""
    port = world.orphans[proxy].port
    for target in ("/catsdogs/", "/catsdogs/cats/"):
        got = request(port, target, bearer(world.issuer.tokens.mfa_token()))
        assert got.handler is None, got
        assert got.status == (503 if proxy == "nginx" else 502), got
