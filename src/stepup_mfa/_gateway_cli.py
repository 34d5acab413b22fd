"""``stepup-mfa gateway``: the forward-auth gateway served by uvicorn (see docs/gateway.md).

The settings come from the ``STEPUP_*`` variables, as for the examples; the shared secret, when
used, from ``STEPUP_GATEWAY_SECRET`` (never a command-line argument, which other local users can
read in the process list).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import Any

from ._core.errors import ConfigurationError
from ._verify.discovery import is_loopback_host
from .adapters.gateway import PROTOCOLS, ForwardAuthGateway, IdentityHeaders
from .routes import RouteTable

SECRET_VARIABLE = "STEPUP_GATEWAY_SECRET"
_IDENTITY_FIELDS = ("subject", "scopes", "acr", "amr", "auth_time")


def add_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("--routes", required=True, help="the route table (policies.toml)")
    command.add_argument(
        "--protocol",
        required=True,
        choices=PROTOCOLS,
        help="which proxy asks: its headers are the only ones believed",
    )
    command.add_argument("--port", type=int, default=None, help="TCP port (required unless --uds)")
    command.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    command.add_argument("--uds", default=None, help="listen on this unix socket instead")
    command.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help=f"bind a non-loopback address (then {SECRET_VARIABLE} is required)",
    )
    command.add_argument(
        "--secret-header",
        default="X-Stepup-Gateway-Secret",
        help=f"header carrying {SECRET_VARIABLE}, when that is set",
    )
    command.add_argument(
        "--envoy-prefix", default="", help="Envoy http_service.path_prefix (e.g. /authz)"
    )
    command.add_argument(
        "--identity-header",
        action="append",
        default=[],
        metavar="FIELD=NAME",
        help=f"rename an identity header ({', '.join(_IDENTITY_FIELDS)}); repeatable",
    )
    command.add_argument(
        "--judge-preflights",
        action="store_true",
        help="judge CORS preflights like any request (by default they pass without a token)",
    )
    command.add_argument("--realm", default="api", help="realm of the challenges (default api)")
    command.add_argument("--log-level", default="warning", help="uvicorn log level")


def run(args: argparse.Namespace) -> int:
    try:
        app, bind = _build(args, os.environ)
    except ConfigurationError as error:
        print(f"stepup-mfa gateway: {error}", file=sys.stderr)
        return 2
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - depends on the installed extras
        from ._extras import hint

        print(hint("stepup-mfa gateway", "demo", "uvicorn"), file=sys.stderr)
        return 2
    uvicorn.run(
        app,
        **bind,
        log_level=args.log_level,
        access_log=False,
        proxy_headers=False,  # the gateway reads the proxy's headers itself, per protocol
        server_header=False,
        lifespan="on",
    )
    return 0


def _build(
    args: argparse.Namespace, env: Mapping[str, str]
) -> tuple[ForwardAuthGateway, dict[str, Any]]:
    from . import Guard, StepUpSettings

    secret = env.get(SECRET_VARIABLE) or None
    if args.uds is not None:
        bind: dict[str, Any] = {"uds": args.uds}
    else:
        if args.port is None:
            raise ConfigurationError("--port is required (or --uds)")
        if not is_loopback_host(args.host):
            if not args.allow_non_loopback:
                raise ConfigurationError(
                    f"{args.host} is not a loopback address: anyone who can reach the gateway "
                    "can forge the forwarded headers; pass --allow-non-loopback and set "
                    f"{SECRET_VARIABLE}"
                )
            if secret is None:
                raise ConfigurationError(
                    f"a gateway on a non-loopback address needs {SECRET_VARIABLE}"
                )
        bind = {"host": args.host, "port": args.port}
    names: dict[str, str] = {}
    for item in args.identity_header:
        field, sep, name = item.partition("=")
        if not sep or field not in _IDENTITY_FIELDS:
            raise ConfigurationError(
                f"--identity-header {item!r}: expected FIELD=NAME with FIELD one of "
                f"{', '.join(_IDENTITY_FIELDS)}"
            )
        names[field] = name
    settings = StepUpSettings.from_env(env)
    guard = Guard(settings.verifier(), realm=args.realm, strict_acr=settings.strict_acr)
    routes = RouteTable.from_toml(args.routes, cors_preflight=not args.judge_preflights)
    app = ForwardAuthGateway(
        guard=guard,
        routes=routes,
        protocol=args.protocol,
        identity_headers=IdentityHeaders(**names),
        shared_secret=secret,
        secret_header=args.secret_header,
        envoy_prefix=args.envoy_prefix,
    )
    return app, bind
