"""One benchmark command: every row side by side in one run, one markdown table of ratios.

Usage: ``python bench/run.py [--quick] [--rounds N] [--duration S] [--json PATH] [--only ROWS]
[--instructions]`` (the last adds instructions per request of the in-process rows, counted by
callgrind: Debian's ``valgrind``; a count that does not depend on what else the machine does)

``--only`` (comma-separated) runs a subset: server variants (``middleware``, ``flask-extension``,
... ; the bare row each is divided by comes along), ``h11`` (the pure-Python uvicorn block),
``in-process`` and ``cold``. Without it every row runs.

- **uvicorn** (1 worker, uvloop and httptools when installed: the issue's headline setup) +
  ``wrk``, 16 connections, a token seen before: bare Starlette, our ASGI middleware, our
  Starlette decorator, bare FastAPI and the FastAPI dependency, peers (PyJWT on every request,
  PyJWT with a dict cache, joserfc on every request), introspection against a local
  authorization server (warm cache, and every request); ratio = req/s over bare Starlette, for
  the FastAPI dependency over bare FastAPI (FastAPI's own cost is not ours). The same apps
  again under uvicorn's pure-Python stack (asyncio, h11), bare and ours only.
- **gunicorn** (1 sync worker) + ``wrk``, 4 connections: bare Flask, our WSGI middleware, our
  Flask extension.
- **in-process**: a raw ASGI call with the real clock (no test client; its own cost would hide the
  middleware's), per-request microseconds over bare (the FastAPI dependency over bare FastAPI).
- **cold verification** (a new token, keys loaded) per algorithm, x a raw ``cryptography`` verify:
  stepup-mfa, PyJWT, joserfc, Authlib.

Authlib's ``ResourceProtector`` has Flask and Django forms but no Starlette/ASGI one, so it
appears only in the cold-verification rows. Rounds are interleaved (every row once per round), so
drift on the machine hits every row alike; the table gives the median and the spread (min-max of
the per-round ratios) as the noise. Every server row is checked first: the token gets 200, no
token gets 401 (bare rows aside), and wrk must report no non-2xx answer.
``wrk`` is Debian's (``apt-get install -y wrk``): installed when missing if run as root.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _servers import ASGI_VARIANTS, AUDIENCE, MFA, WSGI_VARIANTS  # noqa: E402

ASGI_LABELS = {
    "bare": "bare Starlette",
    "bare-control": "control: bare Starlette again (the noise floor: ideally 1.00)",
    "middleware": "stepup-mfa ASGI middleware",
    "decorator": "stepup-mfa Starlette `require`",
    "fastapi-bare": "bare FastAPI",
    "fastapi": "stepup-mfa FastAPI dependency (x bare FastAPI)",
    "fastapi-pyjwt-cached": "peer: PyJWT + dict cache as a FastAPI dependency (x bare FastAPI)",
    "pyjwt-every": "peer: PyJWT verify every request",
    "pyjwt-cached": "peer: PyJWT + dict cache",
    "joserfc-every": "peer: joserfc verify every request",
    "introspection-warm": "stepup-mfa introspection, warm cache",
    "introspection-every": "stepup-mfa introspection, every request",
}
#: The rows also run under uvicorn's pure-Python stack (asyncio, h11).
H11_VARIANTS = ("bare", "bare-control", "middleware", "decorator", "fastapi-bare", "fastapi")
#: The row each row is divided by (bare Starlette unless named here).
BASE_OF = {"fastapi": "fastapi-bare", "fastapi-pyjwt-cached": "fastapi-bare"}
WSGI_LABELS = {
    "flask-bare": "bare Flask",
    "flask-middleware": "stepup-mfa WSGI middleware",
    "flask-extension": "stepup-mfa Flask extension",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit("wrk is needed: run `sudo apt-get install -y wrk` (Debian/Ubuntu)")


def fast_stack() -> bool:
    """Whether uvloop and httptools are installed (the dev extra has them)."""
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


def pinned_to(cpu: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins a child process to one CPU (Linux, 2 CPUs or more): the server
    on one, wrk on another, so that the scheduler moving them around is not part of the noise."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Server:
    def __init__(
        self,
        kind: str,
        variant: str,
        env: dict[str, str],
        fast: bool = True,
        wrapper: tuple[str, ...] = (),
    ) -> None:
        self.kind, self.variant, self.port = kind, variant, free_port()
        bind = f"127.0.0.1:{self.port}"
        python = sys.executable
        if kind == "uvicorn":
            loop = (
                ["--loop", "uvloop", "--http", "httptools"]
                if fast
                else ["--loop", "asyncio", "--http", "h11"]
            )
            command = [python, "-m", "uvicorn", "--factory", "_servers:asgi_app",
                       "--app-dir", str(HERE), "--host", "127.0.0.1", "--port", str(self.port),
                       "--workers", "1", "--log-level", "warning", "--no-access-log",
                       *loop]  # fmt: skip
            self.key = variant if fast else variant + "@h11"
        else:
            command = [python, "-m", "gunicorn", "--chdir", str(HERE), "-w", "1", "-k", "sync",
                       "-b", bind, "--log-level", "warning", "_servers:wsgi_app()"]  # fmt: skip
            self.key = variant
        self.process = subprocess.Popen(
            [*wrapper, *command],
            env={**env, "BENCH_VARIANT": variant},
            stdout=subprocess.DEVNULL,
            preexec_fn=pinned_to(1),
        )
        self.url = f"http://{bind}/cats/"

    def wait(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.kind} {self.variant} exited ({self.process.returncode})")
            try:
                httpx.get(self.url, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise SystemExit(f"{self.kind} {self.variant} did not start")

    def check(self, token: str, protected: bool) -> None:
        """The token gets 200 (twice: the second is the seen-before path); none gets 401."""
        for _ in range(2):
            status = httpx.get(self.url, headers={"Authorization": f"Bearer {token}"}).status_code
            if status != 200:
                raise SystemExit(f"{self.variant}: the token got {status}, not 200")
        if protected:
            status = httpx.get(self.url).status_code
            if status != 401:
                raise SystemExit(f"{self.variant}: no token got {status}, not 401")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def base_key(server: Server) -> str:
    """The row ``server`` is divided by, on the same server stack."""
    base = BASE_OF.get(server.variant, "flask-bare" if server.kind == "gunicorn" else "bare")
    return base + ("@h11" if server.key.endswith("@h11") else "")


def measure(wrk: str, server: Server, token: str, opaque: str, duration: float) -> float:
    credential = opaque if server.variant.startswith("introspection") else token
    connections = 16 if server.kind == "uvicorn" else 4
    return run_wrk(wrk, server.url, credential, connections, duration)


def run_wrk(wrk: str, url: str, token: str, connections: int, duration: float) -> float:
    out = subprocess.run(
        [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s",
         "-H", f"Authorization: Bearer {token}", url],
        capture_output=True, text=True, check=True, preexec_fn=pinned_to(0),
    ).stdout  # fmt: skip
    if "Non-2xx" in out or ("Socket errors" in out and "timeout" in out):
        raise SystemExit(f"wrk against {url} saw errors:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match is None:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{out}")
    return float(match.group(1))


# -- in-process: raw ASGI calls, real clock ------------------------------------------------------


def _servers_app(servers: Any, variant: str) -> Any:
    """The app a server row serves, built in this process."""
    os.environ["BENCH_VARIANT"] = variant
    try:
        return servers.asgi_app()
    finally:
        del os.environ["BENCH_VARIANT"]


def in_process_apps(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The in-process rows' apps (each built as its server row builds it) and the request."""
    import _servers
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from stepup_mfa.asgi import StepUpMiddleware
    from stepup_mfa.integrations.starlette import require
    from stepup_mfa.routes import Route as PolicyRoute
    from stepup_mfa.routes import RouteTable

    async def cats(request: Any) -> PlainTextResponse:
        return PlainTextResponse("meow")

    guard, policy = _servers._guard("middleware"), _servers._policy("middleware")
    table = RouteTable([PolicyRoute("GET", "/cats/", policy)])
    apps = {
        "bare": Starlette(routes=[Route("/cats/", cats)]),
        "middleware": Starlette(
            routes=[Route("/cats/", cats)],
            middleware=[Middleware(StepUpMiddleware, guard=guard, routes=table)],
        ),
        "decorator": Starlette(routes=[Route("/cats/", require(guard, policy)(cats))]),
        "fastapi-bare": _servers_app(_servers, "fastapi-bare"),
        "fastapi": _servers_app(_servers, "fastapi"),
        "fastapi-pyjwt-cached": _servers_app(_servers, "fastapi-pyjwt-cached"),
        "pyjwt-cached": Starlette(
            routes=[Route("/cats/", cats)],
            middleware=[Middleware(_servers._PeerMiddleware, variant="pyjwt-cached")],
        ),
        "pyjwt-every": Starlette(
            routes=[Route("/cats/", cats)],
            middleware=[Middleware(_servers._PeerMiddleware, variant="pyjwt-every")],
        ),
    }
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/cats/", "raw_path": b"/cats/", "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"bench"), (b"accept", b"*/*"),
                    (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
    }  # fmt: skip
    return apps, scope


async def call_app(app: Any, scope: dict[str, Any], n: int) -> float:
    """Call ``app`` ``n`` times with ``scope``; seconds per call. Every answer must be a 200."""
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    elapsed = time.perf_counter() - start
    if statuses != {200}:
        raise SystemExit(f"in-process: statuses {sorted(statuses)}")
    return elapsed / max(n, 1)


def in_process(token: str, rounds: int, requests: int) -> dict[str, list[float]]:
    apps, scope = in_process_apps(token)

    async def main() -> dict[str, list[float]]:
        for app in apps.values():  # first calls verify the token and remember the verdict
            await call_app(app, scope, 20)
        samples: dict[str, list[float]] = {name: [] for name in apps}
        for _ in range(rounds):
            for name, app in apps.items():
                samples[name].append(await call_app(app, scope, requests))
        return samples

    return asyncio.run(main())


# -- instructions per request: callgrind, deterministic ------------------------------------------

#: Requests counted per in-process app under callgrind.
COUNTED_REQUESTS = 2000


#: The server rows counted under callgrind by ``--instructions`` (uvicorn only: gunicorn's
#: forked worker does not answer ``callgrind_control``, so its counts cannot be read this way).
SERVER_COUNTED = ("bare", "middleware", "decorator", "pyjwt-cached", "fastapi-bare", "fastapi")


def _instructions_of(pids: list[int]) -> int:
    """The instructions callgrind counted so far in the processes ``pids`` (every thread)."""
    shown = subprocess.run(["callgrind_control", "-e", "Ir", *map(str, pids)],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    return sum(int(n.replace(",", "")) for n in re.findall(r"Th \d+\s+([\d,]+)", shown))


def server_instructions(wrk: str, token: str, env: dict[str, str]) -> dict[str, float]:
    """Instructions per request of whole uvicorn processes (uvloop and httptools) under
    ``wrk``: each server runs under callgrind
    with counting switched on only while ``wrk`` runs, so the count is the server's own work
    per request, the same from run to run whatever else the machine does."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind: `sudo apt-get install -y valgrind`")
    wrapper = (valgrind, "--tool=callgrind", "--instr-atstart=no",
               "--callgrind-out-file=/dev/null")  # fmt: skip
    counts: dict[str, float] = {}
    for variant in SERVER_COUNTED:
        kind = "gunicorn" if variant.startswith("flask") else "uvicorn"
        server = Server(kind, variant, env, fast=True, wrapper=wrapper)
        try:
            server.wait(time.monotonic() + 300)
            server.check(token, protected="bare" not in variant)
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(20):
                httpx.get(server.url, headers=headers, timeout=30)
            found = subprocess.run(["pgrep", "-P", str(server.process.pid)],
                                   capture_output=True, text=True, check=False).stdout  # fmt: skip
            pids = [server.process.pid, *map(int, found.split())]
            subprocess.run(["callgrind_control", "-i", "on", *map(str, pids)],
                           capture_output=True, check=True)  # fmt: skip
            connections = 16 if kind == "uvicorn" else 4
            out = subprocess.run(
                [wrk, "-t1", f"-c{connections}", "-d8s", "--timeout", "30s",
                 "-H", f"Authorization: Bearer {token}", server.url],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            counted = _instructions_of(pids)  # read while counting is on (off, none is shown)
            subprocess.run(["callgrind_control", "-i", "off", *map(str, pids)],
                           capture_output=True, check=True)  # fmt: skip
            served = re.search(r"(\d+) requests in", out)
            if served is None or "Non-2xx" in out:
                raise SystemExit(f"wrk under callgrind, {variant}:\n{out}")
            counts[variant] = counted / int(served.group(1))
        finally:
            server.stop()
    return counts


def count_one(name: str, token: str) -> None:
    """In a child run under ``valgrind --tool=callgrind --instr-atstart=no``: warm ``name`` up,
    then count instructions only around ``COUNTED_REQUESTS`` calls (``callgrind_control``)."""
    apps, scope = in_process_apps(token)
    app = apps[name]

    def instrument(state: str) -> None:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())],
                       capture_output=True, check=True)  # fmt: skip

    async def main() -> None:
        await call_app(app, scope, 200)
        instrument("on")
        await call_app(app, scope, COUNTED_REQUESTS)
        instrument("off")

    asyncio.run(main())


def instructions(token: str, env: dict[str, str]) -> dict[str, float]:
    """Instructions per request of each in-process app, counted by callgrind (no noise: the
    same count every run, whatever else the machine does). Needs Debian's ``valgrind``."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind: `sudo apt-get install -y valgrind`")
    apps, _ = in_process_apps(token)
    counts: dict[str, float] = {}
    for name in apps:
        done = subprocess.run(
            [valgrind, "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=/dev/null",
             sys.executable, str(Path(__file__).resolve()), "--count-one", name],
            env={**env, "PYTHONHASHSEED": "0", "BENCH_TOKEN": token},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        found = re.search(r"Collected : (\d+)", done.stderr)
        if done.returncode != 0 or found is None:
            raise SystemExit(f"callgrind run of {name} failed:\n{done.stderr[-2000:]}")
        counts[name] = int(found.group(1)) / COUNTED_REQUESTS
    return counts


# -- cold verification ---------------------------------------------------------------------------


def cold_verify(rounds: int, number: int) -> dict[str, dict[str, list[float]]]:
    import warnings

    warnings.filterwarnings("ignore")  # authlib.jose's deprecation, joserfc's EdDSA notice
    import jwt as pyjwt
    from authlib.jose import JsonWebToken
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from joserfc import jwt as jose_jwt
    from joserfc.jwk import ECKey, OKPKey, RSAKey
    from joserfc.jwt import JWTClaimsRegistry

    from stepup_mfa._verify.flow import run_sync
    from stepup_mfa._verify.jws import parse_compact_jws
    from stepup_mfa._verify.jwt_verifier import JWTVerifier
    from stepup_mfa._verify.transports import HttpxTransport
    from stepup_mfa.testing.server import LocalHTTPServer, Reply

    keys: dict[str, Any] = {
        "RS256": RSAKey.generate_key(2048, private=True),
        "ES256": ECKey.generate_key("P-256", private=True),
        "PS256": RSAKey.generate_key(2048, private=True),
        "EdDSA": OKPKey.generate_key("Ed25519", private=True),
    }
    results: dict[str, dict[str, list[float]]] = {}
    with LocalHTTPServer() as server:
        issuer = server.url
        jwks = {"keys": [{**k.as_dict(private=False), "kid": alg, "alg": alg, "use": "sig"}
                         for alg, k in keys.items()]}  # fmt: skip
        server.routes["/jwks.json"] = lambda request: Reply.json(jwks)
        now = time.time()
        claims = {"iss": issuer, "sub": "user-1", "aud": AUDIENCE, "client_id": "c1",
                  "exp": int(now) + 3600, "iat": int(now) - 10, "jti": "j1",
                  "auth_time": int(now) - 20, "acr": MFA, "scope": "cats:read"}  # fmt: skip
        transport = HttpxTransport()
        cold = JWTVerifier(
            issuer, AUDIENCE, jwks_uri=issuer + "/jwks.json", cache_tokens=False,
            allow_insecure_http=True, algorithms=tuple(keys),
        )  # fmt: skip
        run_sync(cold.startup_flow(now), transport)
        registry = JWTClaimsRegistry(
            iss={"essential": True, "value": issuer}, aud={"essential": True, "value": AUDIENCE},
            exp={"essential": True}, sub={"essential": True},
        )  # fmt: skip
        for alg, key in keys.items():
            token = jose_jwt.encode(
                {"alg": alg, "typ": "at+jwt", "kid": alg}, claims, key, algorithms=[alg]
            )
            public = key.get_op_key("verify")
            parsed = parse_compact_jws(token)
            sig, data = parsed.signature, parsed.signing_input
            if alg == "RS256":
                raw: Callable[[], object] = lambda p=public, s=sig, d=data: p.verify(  # noqa: E731
                    s, d, padding.PKCS1v15(), hashes.SHA256()
                )
            elif alg == "PS256":
                pss = padding.PSS(padding.MGF1(hashes.SHA256()), 32)
                raw = lambda p=public, s=sig, d=data, m=pss: p.verify(s, d, m, hashes.SHA256())  # noqa: E731
            elif alg == "ES256":
                der = encode_dss_signature(
                    int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
                )
                raw = lambda p=public, d=data, g=der: p.verify(g, d, ec.ECDSA(hashes.SHA256()))  # noqa: E731
            else:
                raw = lambda p=public, s=sig, d=data: p.verify(s, d)  # noqa: E731
            authlib = JsonWebToken([alg])
            authlib_key = key.as_dict(private=False)
            pyjwt_key = pyjwt.PyJWK({**key.as_dict(private=False), "alg": alg}).key

            def authlib_decode(t: str = token, k: Any = authlib_key, j: Any = authlib) -> object:
                decoded = j.decode(
                    t, k, claims_options={"iss": {"essential": True, "value": issuer},
                                          "aud": {"essential": True, "value": AUDIENCE}},
                )  # fmt: skip
                decoded.validate(now=int(time.time()))
                return decoded

            candidates: dict[str, Callable[[], object]] = {
                "raw cryptography verify": raw,
                "stepup-mfa": lambda t=token: run_sync(cold.verify(t, time.time()), transport),
                "PyJWT": lambda t=token, k=pyjwt_key, a=alg: pyjwt.decode(
                    t, k, algorithms=[a], audience=AUDIENCE, issuer=issuer
                ),
                "joserfc": lambda t=token, k=key, a=alg: registry.validate(
                    jose_jwt.decode(t, k, algorithms=[a]).claims
                ),
                "Authlib": authlib_decode,
            }
            for fn in candidates.values():
                fn()  # every library accepts the token before it is timed
            timers = {name: timeit.Timer(fn) for name, fn in candidates.items()}
            samples: dict[str, list[float]] = {name: [] for name in candidates}
            for _ in range(rounds):
                for name, timer in timers.items():
                    samples[name].append(min(timer.repeat(3, number)) / number)
            results[alg] = samples
        transport.close()
    return results


# -- the table -----------------------------------------------------------------------------------


def ratio_cell(values: list[float], bases: list[float]) -> str:
    ratios = [v / b for v, b in zip(values, bases, strict=True)]
    median = statistics.median(ratios)
    return f"{median:.2f} ({min(ratios):.2f}-{max(ratios):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke: 1 round, 1 s each")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run")
    parser.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    parser.add_argument(
        "--only", default=None, help="comma-separated rows: variants, h11, in-process, cold"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per request in-process (callgrind; needs valgrind)",
    )
    parser.add_argument("--count-one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count_one is not None:  # a child of --instructions, under callgrind
        count_one(args.count_one, os.environ["BENCH_TOKEN"])
        return
    only = set(args.only.split(",")) if args.only else None
    if only is not None:
        unknown = only - {*ASGI_VARIANTS, *WSGI_VARIANTS, "h11", "in-process", "cold"}
        if unknown:
            parser.error(f"--only: unknown rows {sorted(unknown)}")
        for _ in range(2):  # the FastAPI row's base is bare FastAPI, whose base is bare
            only |= {BASE_OF.get(v, "flask-bare" if v in WSGI_VARIANTS else "bare") for v in only}

    def wanted(variant: str) -> bool:
        return only is None or variant in only

    rounds = args.rounds or (1 if args.quick else 5)
    duration = args.duration or (1.0 if args.quick else 2.0)

    from stepup_mfa.testing import FakeIssuer

    wrk = ensure_wrk()
    raw: dict[str, Any] = {"rounds": rounds, "duration_s": duration}
    with FakeIssuer(AUDIENCE) as issuer:
        lifetime = {"expires_in": 7200, "auth_age": 5}
        token = issuer.tokens.mfa_token(scope="cats:read", **lifetime)
        opaque = issuer.opaque_token(mfa=True, scope="cats:read", **lifetime)
        env = {**os.environ, "BENCH_ISSUER": issuer.issuer,
               "BENCH_JWKS": json.dumps(issuer.tokens.jwks)}  # fmt: skip
        os.environ.update(BENCH_ISSUER=issuer.issuer, BENCH_JWKS=env["BENCH_JWKS"])
        fast = fast_stack()
        raw["uvicorn_stack"] = "uvloop + httptools" if fast else "asyncio + h11"
        servers = [Server("uvicorn", v, env, fast) for v in ASGI_VARIANTS if wanted(v)]
        if fast and (only is None or "h11" in only):
            servers += [Server("uvicorn", v, env, fast=False) for v in H11_VARIANTS if wanted(v)]
        servers += [Server("gunicorn", v, env) for v in WSGI_VARIANTS if wanted(v)]
        try:
            deadline = time.monotonic() + 60
            for server in servers:
                server.wait(deadline)
                credential = opaque if server.variant.startswith("introspection") else token
                server.check(credential, protected="bare" not in server.variant)
            rps: dict[str, list[float]] = {s.key: [] for s in servers}
            paired: dict[str, list[float]] = {}  # each row's base, run just before it
            as_base: dict[str, list[float]] = {}
            by_key = {s.key: s for s in servers}
            for round_number in range(rounds):  # interleaved: every row once per round
                for server in servers:
                    base = by_key[base_key(server)]
                    if base is server:
                        continue
                    # Next to its base, which runs first in even rounds and second in odd ones:
                    # whatever favours the first (or the second) run of a pair cancels out.
                    if round_number % 2 == 0:
                        before = measure(wrk, base, token, opaque, duration)
                        row = measure(wrk, server, token, opaque, duration)
                    else:
                        row = measure(wrk, server, token, opaque, duration)
                        before = measure(wrk, base, token, opaque, duration)
                    as_base.setdefault(base.key, []).append(before)
                    paired.setdefault(server.key, []).append(before)
                    rps[server.key].append(row)
        finally:
            for server in servers:
                server.stop()
        for key, values in rps.items():  # a row that is only a base: its runs as the base
            if not values:
                values.extend(as_base.get(key, ()))
        for name, table in (("requests_per_second", rps), ("paired_base", paired)):
            raw[name] = {k: v for k, v in table.items() if not k.endswith("@h11")}
            raw[name + "_h11"] = {
                k.removesuffix("@h11"): v for k, v in table.items() if k.endswith("@h11")
            }
        requests = 500 if args.quick else 5000
        if only is None or "in-process" in only:
            raw["in_process_seconds"] = in_process(token, max(rounds, 3), requests)
        if args.instructions:
            raw["instructions_per_request"] = instructions(token, env)
            raw["server_instructions_per_request"] = server_instructions(wrk, token, env)
    if only is None or "cold" in only:
        raw["cold_verify_seconds"] = cold_verify(max(rounds, 3), 20 if args.quick else 200)
    raw["machine"] = {
        "python": platform.python_version(), "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": {p: metadata.version(p) for p in (
            "stepup-mfa", "uvicorn", "gunicorn", "starlette", "fastapi", "flask", "pyjwt",
            "joserfc", "authlib", "cryptography")},
    }  # fmt: skip
    print(render(raw))
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=2) + "\n")


def render(raw: dict[str, Any]) -> str:
    lines = [
        f"stepup-mfa benchmark: {raw['rounds']} interleaved round(s); cells are the median ratio "
        "(min-max over rounds = the noise)",
        "",
        "| setup | row | absolute (median) | ratio |",
        "|---|---|---|---|",
    ]
    stack = raw.get("uvicorn_stack", "asyncio + h11")
    h11 = raw.get("requests_per_second_h11") or {}
    for rps, paired, labels, kind in (
        (raw["requests_per_second"], raw["paired_base"], ASGI_LABELS,
         f"uvicorn 1 worker ({stack}) + wrk -c16, req/s x bare"),
        (h11, raw.get("paired_base_h11") or {}, {v: ASGI_LABELS[v] for v in h11},
         "uvicorn 1 worker (asyncio + h11) + wrk -c16, req/s x bare"),
        (raw["requests_per_second"], raw["paired_base"], WSGI_LABELS,
         "gunicorn 1 sync worker + wrk -c4, req/s x bare"),
    ):  # fmt: skip
        for variant, label in labels.items():
            values = rps.get(variant)
            if not values:
                continue
            cell = ratio_cell(values, paired[variant]) if variant in paired else "1.00 (base)"
            lines.append(f"| {kind} | {label} | {statistics.median(values):,.0f} req/s | {cell} |")
    seconds = raw.get("in_process_seconds", {})
    for variant, values in seconds.items():
        base = seconds[BASE_OF.get(variant, "bare")]
        extra = [(v - b) * 1e6 for v, b in zip(values, base, strict=True)]
        cell = ratio_cell(values, base)
        lines.append(
            f"| in-process raw ASGI call, real clock, x bare | {ASGI_LABELS[variant]} | "
            f"{statistics.median(values) * 1e6:.1f} us ({statistics.median(extra):+.1f} us) "
            f"| {cell} |"
        )
    on_server = raw.get("server_instructions_per_request", {})
    for variant, count in on_server.items():
        base = on_server[BASE_OF.get(variant, "flask-bare" if "flask" in variant else "bare")]
        label = {**ASGI_LABELS, **WSGI_LABELS}[variant]
        server = "gunicorn sync worker" if "flask" in variant else "uvicorn (uvloop + httptools)"
        lines.append(
            f"| {server} + wrk, instructions per request (callgrind), x bare | {label} "
            f"| {count:,.0f} ({count - base:+,.0f}) | {count / base:.2f} |"
        )
    counted = raw.get("instructions_per_request", {})
    for variant, count in counted.items():
        base = counted[BASE_OF.get(variant, "bare")]
        lines.append(
            f"| in-process, instructions per request (callgrind), x bare | {ASGI_LABELS[variant]} "
            f"| {count:,.0f} ({count - base:+,.0f}) | {count / base:.2f} |"
        )
    for alg, samples in raw.get("cold_verify_seconds", {}).items():
        base = samples["raw cryptography verify"]
        for name, values in samples.items():
            cell = ratio_cell(values, base)
            lines.append(
                f"| cold verify {alg}, x raw `cryptography` | {name} | "
                f"{statistics.median(values) * 1e6:.1f} us | {cell} |"
            )
    machine = raw.get("machine", {})
    versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items())
    lines += ["", f"Python {machine.get('python')}, {machine.get('cpus')} CPUs; {versions}"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
