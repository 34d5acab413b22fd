"""``stepup-mfa demo``: the seed scenario, narrated, against real servers on loopback.

It starts the development authorization server in this process and one of the example apps
(``examples/starlette_app`` or ``examples/flask_app``, run from the copies this package ships in
``stepup_mfa/_demo_apps``, so an installed package needs no checkout) as a separate process
configured only through its documented ``STEPUP_*`` variables, then plays the user and the client:
anonymous ``/``, ``/dogs/`` without and with a token, ``/cats/`` asking for step-up, the TOTP
login, the MFA window running out, the re-authentication, and a DPoP-bound token (RFC 9449) that
is refused when stolen and accepted with its key. Every answer is checked; the exit status is 0
only when each step answered as the seed scenario says it must.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, TextIO

import httpx

from ._core.challenge import Challenge, parse_www_authenticate
from ._core.errors import MalformedHeader
from ._settings import TokenMode

if TYPE_CHECKING:
    from .devidp import DevIdP, DevIdPClient
    from .testing.dpop import DPoPKey

DEMO_USER = "alice"
#: The example apps as shipped in this package; ``examples/`` in a checkout holds copies.
DEMO_APPS = Path(__file__).resolve().parent / "_demo_apps"


class DemoFailure(Exception):
    """A step did not answer as the seed scenario requires."""


def find_example(app: str, filename: str = "app.py") -> Path:
    """``<app>_app/app.py`` (or ``filename``) of the example apps this package ships."""
    return demo_app_file(f"{app}_app", filename)


def demo_app_file(folder: str, filename: str) -> Path:
    """A file of the example apps this package ships (``examples/<folder>`` holds a copy)."""
    path = DEMO_APPS / folder / filename
    if not path.is_file():
        raise DemoFailure(
            f"this installation of stepup-mfa lacks its example {folder}/{filename}: "
            "reinstall it (pip install --force-reinstall 'stepup-mfa[demo]')"
        )
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 for a process the demo starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(log: IO[bytes]) -> str:
    """The last part of a started process's output, for an error message."""
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-4000:]


@dataclass(slots=True)
class ExampleServer:
    """An example app running as its own process, the way a user would start it."""

    url: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def output(self) -> str:
        return log_tail(self.log)


@contextmanager
def run_example(path: Path, env: dict[str, str], timeout: float = 30.0) -> Iterator[ExampleServer]:
    port = free_port()
    # Only the demo's own settings: a STEPUP_* variable left in the user's shell (a
    # STEPUP_DPOP_REQUIRED=1, another issuer) must not change the scenario.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("STEPUP_")}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, str(path)],
            env={**inherited, **env, "PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        server = ExampleServer(f"http://127.0.0.1:{port}", process, log)
        try:
            _wait_until_serving(server, timeout)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(server: ExampleServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise DemoFailure(f"the example app exited early:\n{server.output()}")
        try:
            httpx.get(server.url + "/", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise DemoFailure(f"the example app did not start within {timeout:.0f} s:\n{server.output()}")


class Narrator:
    """Prints each exchange and checks it."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.step = 0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def title(self, text: str) -> None:
        self.step += 1
        self.say(f"\n[{self.step}] {text}")

    def exchange(
        self,
        client: httpx.Client,
        path: str,
        token: str | None,
        expect_status: int,
        *,
        dpop: tuple[DPoPKey, str] | None = None,
    ) -> httpx.Response:
        """GET ``path`` with ``token`` as Bearer, or, with ``dpop`` (a key and whose it is), as
        ``DPoP`` with a fresh proof by that key (RFC 9449 §7)."""
        shown_token = "Bearer <access token>" if token else "no token"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if dpop is not None and token:
            key, owner = dpop
            headers = key.headers("GET", f"{client.base_url}".rstrip("/") + path, token)
            shown_token = f"DPoP <access token> + a proof signed by {owner} key"
        response = client.get(path, headers=headers)
        self.say(f"    GET {response.request.url.raw_path.decode()}  ({shown_token})")
        self.say(f"    -> {response.status_code} {response.reason_phrase}")
        challenge = response.headers.get("WWW-Authenticate")
        if challenge:
            self.say(f"       WWW-Authenticate: {challenge}")
        elif response.status_code == 200:
            self.say(f"       {response.text.strip()[:100]}")
        if response.status_code != expect_status:
            raise DemoFailure(f"expected {expect_status}, got {response.status_code}")
        return response

    def countdown(self, seconds: int, sleep: Callable[[float], None] = time.sleep) -> None:
        """Wait ``seconds``, showing how long is left to wait (not how long the window has)."""
        for remaining in range(seconds, 0, -1):
            if self.out.isatty():
                print(f"\r    {remaining:3d} s to wait ", end="", file=self.out, flush=True)
            elif remaining % 5 == 0 or remaining == seconds:
                self.say(f"    {remaining} s to wait")
            sleep(1)
        if self.out.isatty():
            print("\r    the window has passed", file=self.out, flush=True)
        else:
            self.say("    the window has passed")


def step_up_challenge(response: httpx.Response) -> Challenge:
    """The RFC 9470 challenge in ``response``, or a :class:`DemoFailure`."""
    try:
        challenges = parse_www_authenticate(response.headers.get("WWW-Authenticate", ""))
    except MalformedHeader as exc:
        raise DemoFailure(f"unparseable WWW-Authenticate: {exc}") from exc
    for challenge in challenges:
        if challenge.error == "insufficient_user_authentication":
            return challenge
    raise DemoFailure("expected an insufficient_user_authentication challenge")


def _describe(claims: dict[str, object], now: float) -> str:
    auth_time = claims.get("auth_time")
    age = f"{now - auth_time:.0f} s ago" if isinstance(auth_time, int | float) else "unknown"
    return f"acr={claims.get('acr')}  amr={claims.get('amr')}  authenticated {age}"


def example_environment(idp: DevIdP, token_mode: TokenMode, max_age: int) -> dict[str, str]:
    """The ``STEPUP_*`` settings that point an example at ``idp`` (the documented interface)."""
    from .devidp import RESOURCE_SERVER_CLIENT_ID, RESOURCE_SERVER_CLIENT_SECRET

    env = {
        "STEPUP_ISSUER": idp.issuer,
        "STEPUP_AUDIENCE": idp.audience if token_mode == "jwt" else idp.opaque_audience,
        "STEPUP_TOKEN_MODE": token_mode,
        "STEPUP_MFA_ACR": idp.mfa_acr,
        "STEPUP_MFA_MAX_AGE": str(max_age),
        "STEPUP_ALLOW_INSECURE_HTTP": "1",
    }
    if token_mode == "introspection":
        env["STEPUP_INTROSPECTION_CLIENT_ID"] = RESOURCE_SERVER_CLIENT_ID
        env["STEPUP_INTROSPECTION_CLIENT_SECRET"] = RESOURCE_SERVER_CLIENT_SECRET
    return env


def run_demo(
    app: str = "starlette",
    max_age: int = 10,
    serve: bool = False,
    token_mode: TokenMode = "jwt",
    out: TextIO = sys.stdout,
    gateway: str | None = None,
) -> int:
    """Run the walkthrough (or, with ``serve``, keep both servers up); return the exit status.

    ``gateway`` (``"nginx"`` or ``"caddy"``) puts the catsdogs pages of ``examples/gateway``
    behind that proxy and ``stepup-mfa gateway`` instead of running an example app."""
    from .devidp import DevIdP, DevIdPClient

    narrator = Narrator(out)
    try:
        if app == "mcp":  # an MCP server and the SDK's client (issue 15): its own walkthrough
            from ._demo_mcp import run_mcp_demo

            return run_mcp_demo(narrator, max_age, token_mode)
        example = find_example(app)
        with DevIdP(port=0) as idp:
            narrator.say(f"Authorization server (stepup-mfa dev-idp): {idp.issuer}")
            env = example_environment(idp, token_mode, max_age)
            if gateway is None:
                server, described = run_example(example, env), f"{app} example"
            else:
                from ._demo_gateway import run_gateway_stack

                server = run_gateway_stack(gateway, env, idp.mfa_acr, max_age)
                described = f"catsdogs behind {gateway} and stepup-mfa gateway"
            with server as api:
                narrator.say(
                    f"API ({described}, {token_mode} tokens, /cats/ needs MFA within "
                    f"{max_age} s): {api.url}"
                )
                if serve:
                    return _serve(idp, api, narrator, token_mode)
                with (
                    DevIdPClient(idp.issuer) as idp_client,
                    httpx.Client(base_url=api.url, timeout=10.0) as http,
                ):
                    _walkthrough(idp, idp_client, http, narrator, max_age, token_mode)
                    if gateway is None:  # the proxies' configurations forward no DPoP header
                        _dpop_step(idp, idp_client, http, narrator, token_mode)
    except DemoFailure as failure:
        narrator.say(f"\nDEMO FAILED at step {narrator.step}: {failure}")
        return 1
    narrator.say(f"\nAll {narrator.step} steps answered as the seed scenario requires.")
    return 0


def _walkthrough(
    idp: DevIdP,
    idp_client: DevIdPClient,
    http: httpx.Client,
    narrator: Narrator,
    max_age: int,
    token_mode: TokenMode,
) -> None:
    from .devidp import LoginError

    # Opaque tokens are issued for the second audience (RFC 8707 resource indicator).
    resource = idp.opaque_audience if token_mode == "introspection" else None

    user = idp.users[DEMO_USER]
    password = user.password

    def totp() -> str:
        code = idp.totp_code(DEMO_USER)
        narrator.say(f"    (the user reads {code} from the authenticator app)")
        return code

    def login(**kwargs: object) -> str:
        try:
            tokens = idp_client.login(
                DEMO_USER,
                password,
                resource=resource,
                **kwargs,  # type: ignore[arg-type]
            )
        except LoginError as exc:
            raise DemoFailure(f"login failed: {exc}") from exc
        if resource is None:
            facts = _describe(tokens.unverified_claims(), time.time())
            narrator.say(f"    -> access token (JWT): {facts}")
        else:
            narrator.say("    -> access token (opaque; the API introspects it)")
        return tokens.access_token

    narrator.title("Anyone may read the front page")
    narrator.exchange(http, "/", None, 200)

    narrator.title("/dogs/ needs a token")
    narrator.exchange(http, "/dogs/", None, 401)

    narrator.title(f"{DEMO_USER} logs in with her password only")
    token = login()

    narrator.title("/dogs/ accepts any valid token")
    narrator.exchange(http, "/dogs/", token, 200)

    narrator.title("/cats/ wants fresh MFA: the API asks for a step-up")
    challenge = step_up_challenge(narrator.exchange(http, "/cats/", token, 401))
    if idp.mfa_acr not in challenge.acr_values:
        raise DemoFailure(f"the challenge should ask for acr {idp.mfa_acr}")

    narrator.title(
        f"The client sends {DEMO_USER} back with acr_values={' '.join(challenge.acr_values)}"
        f" max_age={challenge.max_age}: she enters her TOTP code"
    )
    token = login(acr_values=challenge.acr_values, max_age=challenge.max_age, totp=totp)

    narrator.title("/cats/ accepts the stepped-up token")
    narrator.exchange(http, "/cats/", token, 200)

    narrator.title(f"Time passes: the {max_age} s MFA window runs out")
    narrator.countdown(max_age + 1)
    challenge = step_up_challenge(narrator.exchange(http, "/cats/", token, 401))
    if challenge.max_age != max_age:
        raise DemoFailure(f"the challenge should carry max_age={max_age}")

    narrator.title(f"{DEMO_USER} re-authenticates (max_age={challenge.max_age}) with her TOTP code")
    token = login(acr_values=challenge.acr_values, max_age=challenge.max_age, totp=totp)

    narrator.title("/cats/ accepts the fresh token again")
    narrator.exchange(http, "/cats/", token, 200)


def _dpop_step(
    idp: DevIdP,
    idp_client: DevIdPClient,
    http: httpx.Client,
    narrator: Narrator,
    token_mode: TokenMode,
) -> None:
    """RFC 9449: a token bound to the client's key is refused without a proof by that key (as
    Bearer, or with a thief's proof) and accepted with one."""
    from .devidp import LoginError
    from .testing.dpop import DPoPKey

    narrator.title("A DPoP-bound token is useless when stolen: refused without its key")
    key, thief = DPoPKey(), DPoPKey()
    narrator.say(f"    (the client logs {DEMO_USER} in with a proof of its DPoP key, RFC 9449 §5)")
    resource = idp.opaque_audience if token_mode == "introspection" else None
    idp_client.dpop = key
    try:
        tokens = idp_client.login(DEMO_USER, idp.users[DEMO_USER].password, resource=resource)
    except LoginError as exc:
        raise DemoFailure(f"login failed: {exc}") from exc
    finally:
        idp_client.dpop = None
    if tokens.token_type != "DPoP":
        raise DemoFailure(f"expected token_type DPoP, got {tokens.token_type}")
    narrator.say(f"    -> access token (token_type DPoP, bound to key {key.jkt[:12]}...)")
    token = tokens.access_token
    narrator.say("    a thief who copied the token sends it as a bearer token:")
    narrator.exchange(http, "/dogs/", token, 401)
    narrator.say("    ... and with a proof signed by a key of his own:")
    narrator.exchange(http, "/dogs/", token, 401, dpop=(thief, "the thief's"))
    narrator.say("    the client sends it with a fresh proof signed by its key:")
    narrator.exchange(http, "/dogs/", token, 200, dpop=(key, "the client's"))


def _serve(idp: DevIdP, api: ExampleServer, narrator: Narrator, token_mode: TokenMode) -> int:
    from .devidp import PUBLIC_CLIENT_ID

    narrator.say("\nBoth servers are running; press Ctrl-C to stop.")
    for user in idp.users.values():
        narrator.say(
            f"  user {user.username}: password {user.password}, TOTP secret {user.totp_secret}"
        )
    user = idp.users[DEMO_USER]
    login_args = f'"{idp.issuer}", "{PUBLIC_CLIENT_ID}", "{user.username}", "{user.password}"'
    if token_mode == "introspection":  # opaque tokens are issued for the second audience
        login_args += f', resource="{idp.opaque_audience}"'
    narrator.say("\nGet tokens in Python (pyotp, from the demo extra, computes the code):")
    narrator.say("  import pyotp")
    narrator.say("  from stepup_mfa.devidp import login")
    narrator.say(f"  password_only = login({login_args}).access_token")
    narrator.say(
        f"  stepped_up = login({login_args},\n"
        f'                     totp=pyotp.TOTP("{user.totp_secret}").now,\n'
        f'                     acr_values="{idp.mfa_acr}").access_token'
    )
    narrator.say(f"then: curl -i -H 'Authorization: Bearer <token>' {api.url}/cats/")
    narrator.say("\nOr a DPoP-bound token (RFC 9449), useless without its key:")
    narrator.say("  import httpx")
    narrator.say("  from stepup_mfa.testing import DPoPKey")
    narrator.say(f"  key = DPoPKey(); bound = login({login_args}, dpop=key).access_token")
    narrator.say(
        f'  httpx.get("{api.url}/dogs/", headers=key.headers("GET", "{api.url}/dogs/", bound))'
    )
    # SIGTERM (a supervisor, ``timeout``) stops both servers as cleanly as Ctrl-C, instead of
    # leaving the example app running.
    previous: Callable[[int, FrameType | None], object] | int | None = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        while api.process.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    narrator.say(f"the example app stopped:\n{api.output()}")
    return 1


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
