"""The Traefik and Envoy protocols, asked directly with the header sets their documentation
specifies (neither proxy is packaged here), and the rule that a gateway believes only its own
protocol's headers (GW-4).

Traefik ``ForwardAuth`` sends a GET to its ``address`` with the client's headers and
``X-Forwarded-Method``, ``-Proto``, ``-Host``, ``-Uri`` and ``-For``. Envoy ``ext_authz`` (HTTP
service) sends the original method, ``path_prefix`` + the original path (query included) as the
path, and the allowed headers (``Host``, ``Method``, ``Path``, ``Content-Length`` and
``Authorization`` always, others by ``allowed_headers``), plus ``x-forwarded-proto`` and
``x-envoy-*`` headers of its own.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from gateway_stack import (
    ENVOY_PREFIX,
    REALM,
    Response,
    World,
    bearer,
    gateway_process,
    request,
)

from stepup_mfa.testing import MFA_ACR
from stepup_mfa.testing.assertions import assert_invalid_request, assert_step_up

IDENTITY = ("x-auth-subject", "x-auth-scopes", "x-auth-acr", "x-auth-amr", "x-auth-time")


def traefik(world: World, method: str, uri: str, token: str | None) -> Response:
    headers = {
        "X-Forwarded-Method": method,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "catsdogs.example.com",
        "X-Forwarded-Uri": uri,
        "X-Forwarded-For": "203.0.113.7",
        "Accept": "*/*",
        "User-Agent": "curl/8.5.0",
        **bearer(token),
    }
    return request(world.gateways["traefik"].port, "/", headers)


def envoy(world: World, method: str, target: str, token: str | None) -> Response:
    headers = {
        "Host": "catsdogs.example.com",
        "x-forwarded-proto": "https",
        "x-request-id": "5f7d3c1e-0a52-4b4e-9a3e-2f6f0c1d9e11",
        "x-envoy-expected-rq-timeout-ms": "200",
        "x-envoy-internal": "true",
        "Content-Length": "0",
        **bearer(token),
    }
    return request(world.gateways["envoy"].port, ENVOY_PREFIX + target, headers, method)


ASK = {"traefik": traefik, "envoy": envoy}


@pytest.mark.parametrize("protocol", ["traefik", "envoy"])
def test_GW_4_the_seed_scenario_in_the_protocol(protocol: str, world: World) -> None:
    """GW-4, GW-1, GW-2: anonymous, authenticated, step-up, MFA, a stale MFA, and the identity
    headers of an admitted request, as the proxy would copy them onto the upstream request."""
    ask = ASK[protocol]
    tokens = world.issuer.tokens
    anonymous = ask(world, "GET", "/catsdogs/", None)
    assert anonymous.status == 200
    assert [anonymous.header(name) for name in IDENTITY] == [""] * 5  # overwrite client copies
    dogs = ask(world, "GET", "/catsdogs/dogs/", None)
    assert dogs.status == 401 and dogs.header("WWW-Authenticate") == f'Bearer realm="{REALM}"'
    assert ask(world, "GET", "/catsdogs/dogs/", tokens.password_token()).status == 200
    step_up = ask(world, "GET", "/catsdogs/cats/?page=2", tokens.password_token())
    assert_step_up(
        step_up.status, step_up.header("WWW-Authenticate"), max_age=60, acr_values=MFA_ACR
    )
    cats = ask(world, "GET", "/catsdogs/cats/", tokens.mfa_token(scope="b a"))
    assert cats.status == 200
    assert cats.header("X-Auth-Subject") == "user-1"
    assert cats.header("X-Auth-Scopes") == "a b"
    assert cats.header("X-Auth-Acr") == MFA_ACR
    assert cats.header("X-Auth-Amr") == "pwd otp"
    assert (cats.header("X-Auth-Time") or "").isdigit()
    assert cats.header("Cache-Control") == "no-store"
    stale = ask(world, "GET", "/catsdogs/cats/", tokens.mfa_token(auth_age=61))
    assert_step_up(stale.status, stale.header("WWW-Authenticate"), max_age=60)
    # HEAD asks for the same resource as GET (and its refusal has no body)
    head = ask(world, "HEAD", "/catsdogs/cats/", tokens.password_token())
    assert head.status == 401 and head.body == b""


@pytest.mark.parametrize("protocol", ["traefik", "envoy"])
@pytest.mark.parametrize(
    "target",
    ["//catsdogs/cats/", "/catsdogs/x/../cats/", "/catsdogs/cats%2F", "/catsdogs/cats/%0A"],
)
def test_GW_3_non_canonical_targets_are_refused_in_the_protocol(
    protocol: str, target: str, world: World
) -> None:
    """GW-3: the same canonical-path rule, whichever protocol forwards the target."""
    got = ASK[protocol](world, "GET", target, world.issuer.tokens.mfa_token())
    assert_invalid_request(got.status, got.header("WWW-Authenticate"))


def test_GW_4_envoy_paths_outside_the_prefix_are_refused(world: World) -> None:
    """GW-4: Envoy's check request must carry the configured path_prefix."""
    port = world.gateways["envoy"].port
    for target in ("/catsdogs/", "/authzcatsdogs/", "/other/catsdogs/"):
        assert request(port, target).status == 400


@pytest.mark.parametrize(
    ("gateway", "headers"),
    [
        # nginx's gateway ignores the X-Forwarded-* set of Caddy and Traefik...
        ("nginx", {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/catsdogs/"}),
        # ... and theirs ignore nginx's X-Original-* headers
        ("caddy", {"X-Original-Method": "GET", "X-Original-URI": "/catsdogs/"}),
        ("traefik", {"X-Original-Method": "GET", "X-Original-URI": "/catsdogs/"}),
        # one method and one target, never a choice between two
        (
            "traefik",
            [
                ("X-Forwarded-Method", "GET"),
                ("X-Forwarded-Uri", "/catsdogs/"),
                ("X-Forwarded-Uri", "/catsdogs/cats/"),
            ],
        ),
        ("nginx", {"X-Original-Method": "GET"}),
        ("nginx", {"X-Original-Method": "GET", "X-Original-URI": "catsdogs/"}),
        ("nginx", {"X-Original-Method": "GET", "X-Original-URI": "http://x/catsdogs/"}),
        ("nginx", {"X-Original-Method": "G T", "X-Original-URI": "/catsdogs/"}),
    ],
    ids=[
        "nginx-given-caddy",
        "caddy-given-nginx",
        "traefik-given-nginx",
        "two-targets",
        "no-target",
        "relative-target",
        "absolute-target",
        "bad-method",
    ],
)
def test_GW_4_the_protocol_is_configured_never_sniffed(
    gateway: str, headers: dict[str, str] | list[tuple[str, str]], world: World
) -> None:
    """GW-4: a gateway reads only its configured protocol's headers; a subrequest that does not
    name exactly one method and one origin-form target is refused, even for an anonymous page."""
    port = (
        world.stacks[gateway].gateway if gateway in world.stacks else world.gateways[gateway]
    ).port
    got = request(port, "/auth", headers)
    assert_invalid_request(got.status, got.header("WWW-Authenticate"))


def test_GW_5_the_gateway_serves_a_unix_socket(world: World, tmp_path: Path) -> None:
    """GW-5: ``--uds``: only processes that can open the socket file can ask the gateway."""
    socket_path = tmp_path / "gateway.sock"
    gateway = gateway_process(
        "gateway-uds",
        "nginx",
        world.issuer.issuer,
        world.routes,
        tmp_path,
        "--uds",
        str(socket_path),
    )
    try:
        deadline = time.monotonic() + 20
        while not socket_path.exists() and time.monotonic() < deadline:
            gateway.check()
            time.sleep(0.05)
        transport = httpx.HTTPTransport(uds=str(socket_path))
        with httpx.Client(transport=transport, base_url="http://gateway") as client:
            original = {"X-Original-Method": "GET", "X-Original-URI": "/catsdogs/cats/"}
            token = world.issuer.tokens.mfa_token()
            allowed = client.get("/auth", headers={**original, **bearer(token)})
            refused = client.get("/auth", headers=original)
        assert allowed.status_code == 200 and allowed.headers["x-auth-subject"] == "user-1"
        assert refused.status_code == 401
    finally:
        gateway.stop()
