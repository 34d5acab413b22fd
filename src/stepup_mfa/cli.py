"""The ``stepup-mfa`` command.

Each subcommand registers itself with :func:`_add_dev_idp` style helpers in :func:`build_parser`
and dispatches through ``args.handler``, so adding one (``demo``, ``explain``) is one function
that fills a sub-parser and one handler that returns an exit status.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn, TextIO

if TYPE_CHECKING:
    from .devidp import DevIdP

Handler = Callable[[argparse.Namespace], int]

_INVALID_VALUE = re.compile(r"(invalid (?:[\w ]+ )?(?:choice|value)): (?:'[^']*'|\"[^\"]*\"|\S+)")
#: What an option name looks like (every option of this command is long); tokens are longer.
_OPTION_LIKE = re.compile(r"--[A-Za-z][A-Za-z0-9-]{0,30}")


def without_values(message: str) -> str:
    """An argparse error message that repeats none of the values it was given.

    Values typed on the command line may be secrets: ``stepup-mfa doctor`` takes an access token,
    and a token starting with ``-`` or one that lands as a flag's value would otherwise be printed
    back in the usage error ("unrecognized arguments: ...", "invalid choice: '...'"). Option names
    are kept, so the message still says what went wrong.
    """
    message = _INVALID_VALUE.sub(r"\1 (the value is not repeated here)", message)
    head, marker, rest = message.partition("unrecognized arguments: ")
    if not marker:
        return message
    words = rest.split(" ")
    shown = [word.split("=", 1)[0] for word in words if _OPTION_LIKE.fullmatch(word.split("=")[0])]
    hidden = len(words) - len(shown)
    if hidden:
        shown.append(f"({hidden} value{'s' if hidden > 1 else ''} not repeated here)")
    return head + marker + " ".join(shown)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors never echo a value (:func:`without_values`)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {without_values(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(
        prog="stepup-mfa",
        description="Demand fresh MFA on high-value API endpoints (RFC 9470 step-up).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND")
    subcommands.required = True
    _add_dev_idp(subcommands)
    _add_demo(subcommands)
    _add_explain(subcommands)
    _add_gateway(subcommands)
    _add_doctor(subcommands)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def _extra_installed(extra: str, command: str) -> bool:
    """True when every module of ``extra`` is importable; else one line on stderr (no traceback)."""
    from ._extras import first_missing, hint

    missing = first_missing(extra)
    if missing is None:
        return True
    print(hint(command, extra, missing), file=sys.stderr)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stepup-mfa`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


# -- demo ---------------------------------------------------------------------------------------


def _add_demo(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subcommands.add_parser(
        "demo",
        help="run the seed scenario end to end (dev-idp + an example API), narrated",
        description=(
            "Start the development authorization server and an example API on free loopback "
            "ports, then play the seed scenario: / anonymous, /dogs/ authenticated, /cats/ MFA "
            "within --max-age seconds, step-up with a TOTP code, the window running out, "
            "re-authentication, and a DPoP-bound token refused when stolen and accepted with its "
            "key. Runs from an installed package (the example apps ship with it). Exits 0 only "
            "when every step answers as expected."
        ),
    )
    command.add_argument("--app", choices=("starlette", "flask", "mcp"), default="starlette")
    command.add_argument(
        "--max-age", type=int, default=10, help="MFA window of /cats/ in seconds (default 10)"
    )
    command.add_argument(
        "--token-mode",
        choices=("jwt", "introspection"),
        default="jwt",
        help="JWT access tokens checked with JWKS, or opaque ones checked by introspection",
    )
    command.add_argument(
        "--serve",
        action="store_true",
        help="keep both servers running for a browser or an HTTP client instead",
    )
    command.add_argument(
        "--gateway",
        choices=("nginx", "caddy"),
        default=None,
        help="serve examples/gateway's catsdogs pages through this real proxy and "
        "stepup-mfa gateway instead of an example app (the proxy must be installed)",
    )
    command.set_defaults(handler=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    if not _extra_installed("demo", "stepup-mfa demo"):
        return 2
    if args.app == "mcp" and (args.serve or args.gateway):
        print("stepup-mfa demo: --app mcp takes neither --serve nor --gateway", file=sys.stderr)
        return 2
    if args.app == "mcp" and not _extra_installed("mcp", "stepup-mfa demo --app mcp"):
        return 2
    from ._demo import run_demo

    if args.max_age < 1:
        print("stepup-mfa demo: --max-age must be at least 1", file=sys.stderr)
        return 2
    return run_demo(
        app=args.app,
        max_age=args.max_age,
        serve=args.serve,
        token_mode=args.token_mode,
        gateway=args.gateway,
    )


# -- explain ------------------------------------------------------------------------------------


def _add_explain(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subcommands.add_parser(
        "explain",
        help="explain a WWW-Authenticate challenge: what went wrong, what to send next",
        description="Read a WWW-Authenticate header value (as a protected API sent it) and say "
        "what it asks of the client, including the acr_values and max_age of a step-up.",
    )
    command.add_argument("header", help="the WWW-Authenticate value, quoted as one argument")
    command.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from ._core.errors import MalformedHeader
    from ._explain import explain

    try:
        print(explain(args.header))
    except MalformedHeader as exc:
        print(f"stepup-mfa explain: not a WWW-Authenticate value: {exc}", file=sys.stderr)
        return 2
    return 0


# -- doctor -------------------------------------------------------------------------------------


def _add_doctor(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = subcommands.add_parser(
        "doctor",
        help="why is this token refused here? judge one token step by step, route by route",
        description="Decode a token (never printing it), check it against the issuer's live "
        "metadata and JWKS (or introspection), and say for each route what the library decides "
        "and why: each requirement met or not, the max_age countdown, the exact challenge and "
        "the fix to try. Settings come from the STEPUP_* variables; the flags override them. "
        "Routes: --routes FILE, else --policy, else the seed routes / (anonymous), /dogs/ "
        "(authenticated) and /cats/ (STEPUP_MFA_ACR within STEPUP_MFA_MAX_AGE). Exit status 0 "
        "when every route accepts the token, 1 when one refuses it, 2 for a usage error.",
    )
    command.add_argument(
        "token", nargs="?", default="-", help="the access token, or - (the default) for stdin"
    )
    command.add_argument("--issuer", help="STEPUP_ISSUER: the issuer the API trusts")
    command.add_argument("--audience", help="STEPUP_AUDIENCE: the API's audience")
    command.add_argument("--token-mode", choices=("jwt", "introspection"), help="STEPUP_TOKEN_MODE")
    command.add_argument(
        "--introspection-client-id",
        help="STEPUP_INTROSPECTION_CLIENT_ID (the secret is read from "
        "STEPUP_INTROSPECTION_CLIENT_SECRET only: arguments show in the process list)",
    )
    command.add_argument("--mfa-acr", help="STEPUP_MFA_ACR: the acr value that means MFA")
    command.add_argument("--mfa-max-age", help="STEPUP_MFA_MAX_AGE: seconds")
    command.add_argument(
        "--accept-jwt-typ", action="store_true", help="STEPUP_ACCEPT_JWT_TYP=1: typ JWT too"
    )
    command.add_argument(
        "--allow-insecure-http", action="store_true", help="STEPUP_ALLOW_INSECURE_HTTP=1"
    )
    command.add_argument(
        "--strict-acr",
        action="store_true",
        help="STEPUP_STRICT_ACR=1: acr values the issuer does not list fail (R9470-14)",
    )
    command.add_argument("--routes", help="a route table (policies.toml) to judge every entry of")
    command.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="SPEC",
        help="a policy in the route table's TOML syntax, e.g. "
        "'acr_values = [\"urn:example:mfa\"], max_age = 300' (repeatable)",
    )
    command.add_argument("--realm", default="api", help="realm of the challenges (default api)")
    command.add_argument("--json", action="store_true", help="print JSON instead of text")
    command.set_defaults(handler=_run_doctor)


def _run_doctor(args: argparse.Namespace) -> int:
    from ._doctor import run

    return run(args, sys.stdin, sys.stdout, sys.stderr)


# -- gateway ------------------------------------------------------------------------------------


def _add_gateway(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from ._gateway_cli import add_arguments, run

    command = subcommands.add_parser(
        "gateway",
        help="forward-auth server for nginx, Caddy, Traefik and Envoy (docs/gateway.md)",
        description="Answer a proxy's authorization subrequests (nginx auth_request, Caddy "
        "forward_auth, Traefik ForwardAuth, Envoy ext_authz) with the route table's policies; "
        "settings from STEPUP_*.",
    )
    add_arguments(command)
    command.set_defaults(handler=run)


# -- dev-idp -------------------------------------------------------------------------------------


def _add_dev_idp(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .testing.tokens import MFA_ACR, PASSWORD_ACR

    command = subcommands.add_parser(
        "dev-idp",
        help="run the development authorization server (password + TOTP, step-up)",
        description=(
            "Run a development OAuth 2.0 authorization server with demo users, password + TOTP "
            "login and RFC 9470 step-up. In-memory, loopback only: never use it in production."
        ),
    )
    command.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    command.add_argument("--port", type=int, default=None, help="port (default 9400; 0 = any)")
    command.add_argument(
        "--audience",
        default=None,
        help="aud of JWT access tokens (default https://api.example.com)",
    )
    command.add_argument(
        "--opaque-audience",
        default=None,
        help="audience that gets opaque tokens checked by introspection "
        "(default https://opaque.api.example.com)",
    )
    command.add_argument("--password-acr", default=PASSWORD_ACR, help="acr of a password login")
    command.add_argument("--mfa-acr", default=MFA_ACR, help="acr of a password + TOTP login")
    command.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="extra redirect URI for the demo clients (repeatable)",
    )
    command.add_argument(
        "--access-token-lifetime", type=int, default=300, help="seconds (default 300)"
    )
    command.add_argument("--qr", action="store_true", help="print TOTP enrolment QR codes")
    command.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="allow binding to a non-loopback address (exposes demo credentials!)",
    )
    command.set_defaults(handler=_run_dev_idp)


def _run_dev_idp(args: argparse.Namespace) -> int:
    if not _extra_installed("devidp", "stepup-mfa dev-idp"):
        return 2
    from ._core.errors import ConfigurationError
    from .devidp import DEFAULT_AUDIENCE, DEFAULT_OPAQUE_AUDIENCE, DEFAULT_PORT, DevIdP

    try:
        idp = DevIdP(
            host=args.host,
            port=DEFAULT_PORT if args.port is None else args.port,
            audience=args.audience or DEFAULT_AUDIENCE,
            opaque_audience=args.opaque_audience or DEFAULT_OPAQUE_AUDIENCE,
            password_acr=args.password_acr,
            mfa_acr=args.mfa_acr,
            redirect_uris=args.redirect_uri,
            access_token_lifetime=args.access_token_lifetime,
            allow_non_loopback=args.allow_non_loopback,
        )
    except ConfigurationError as exc:
        print(f"stepup-mfa dev-idp: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"stepup-mfa dev-idp: cannot listen on {args.host}: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    # SIGTERM (a supervisor, a test, ``timeout``) ends as cleanly as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with idp:
        print_dev_idp_banner(idp, sys.stdout, qr=args.qr)
        sys.stdout.flush()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
    print("stopped.")
    return 0


def print_dev_idp_banner(idp: DevIdP, out: TextIO, *, qr: bool = False) -> None:
    """What a newcomer needs: the issuer, the users and their secrets, how to get a token."""
    from .devidp import (
        CONFIDENTIAL_CLIENT_ID,
        CONFIDENTIAL_CLIENT_SECRET,
        PUBLIC_CLIENT_ID,
        RESOURCE_SERVER_CLIENT_ID,
        RESOURCE_SERVER_CLIENT_SECRET,
    )

    w = out.write
    w("stepup-mfa development authorization server (in-memory; NOT for production)\n\n")
    w(f"  issuer     {idp.issuer}\n")
    w(f"  metadata   {idp.metadata_url}\n")
    w(f"  jwks       {idp.issuer}/jwks.json\n")
    w(f"  audience   {idp.audience}  (JWT access tokens, RFC 9068)\n")
    w(f"             {idp.opaque_audience}  (opaque; send resource=..., RFC 7662 introspection)\n")
    w(f"  acr        password {idp.password_acr}\n")
    w(f"             MFA      {idp.mfa_acr}\n\n")
    w("Demo users (TOTP secrets are new on every start):\n")
    now = idp.clock()
    for user in idp.users.values():
        w(f"  {user.username:<8} password {user.password}\n")
        uri = user.provisioning_uri(f"stepup-mfa dev-idp {idp.port}")
        if uri is not None:
            w(f"           TOTP secret {user.totp_secret}  (current code {user.totp_now(now)})\n")
            w(f"           {uri}\n")
            if qr:
                import segno

                segno.make(uri).terminal(out=out, compact=True)
    w(f"  enrol an authenticator app at {idp.issuer}/enroll\n\n")
    w("Clients:\n")
    w(f"  {PUBLIC_CLIENT_ID:<22} public, PKCE S256, redirect {idp.issuer}/callback\n")
    w(f"  {CONFIDENTIAL_CLIENT_ID:<22} secret {CONFIDENTIAL_CLIENT_SECRET}\n")
    w(
        f"  {RESOURCE_SERVER_CLIENT_ID:<22} secret {RESOURCE_SERVER_CLIENT_SECRET}"
        "  (introspection)\n\n"
    )
    w("Get a token from Python (password, then step up with TOTP):\n")
    w("  import pyotp\n")
    w("  from stepup_mfa.devidp import login\n")
    w(f'  t = login("{idp.issuer}", "{PUBLIC_CLIENT_ID}", "alice", "alice-password")\n')
    w(f'  t = login("{idp.issuer}", "{PUBLIC_CLIENT_ID}", "alice", "alice-password",\n')
    w(f'            totp=pyotp.TOTP("{idp.users["alice"].totp_secret}").now,\n')
    w(f'            acr_values="{idp.mfa_acr}", max_age=60)\n')
    w("  print(t.access_token)\n\n")
    w("Or a machine token with curl (no user, so it never satisfies a step-up route):\n")
    w(
        f"  curl -s -u {CONFIDENTIAL_CLIENT_ID}:{CONFIDENTIAL_CLIENT_SECRET} "
        f"-d grant_type=client_credentials -d scope=dogs:read {idp.token_endpoint}\n\n"
    )
    w("Press Ctrl-C to stop.\n")
