"""Load and fault test: many workers sharing one redis-server, through a key rotation and an
introspection outage, with every answer checked against the token it was sent with (LOAD-1).

    python bench/load.py            # the full run (about 2-3 minutes)
    python bench/load.py --smoke    # the CI smoke (well under 40 s)
    python bench/load.py --json out.json

Loopback only. It starts a redis-server on a free port, the fake authorization server of
``stepup_mfa.testing`` (metadata, JWKS, introspection; its keys rotate on demand) with the
introspection endpoint behind a front that can be made unreachable, 4 uvicorn workers (Starlette,
asyncio Redis stores) and 2 gunicorn workers (Flask, blocking Redis stores). A Python load
generator sends a mix of valid, expired, wrong-audience, stale-MFA, password-only, tampered,
scope-less and anonymous requests and opaque tokens (active, inactive, scope-less) and knows the
answer each must get from the claims it minted. Meanwhile the authorization server rotates its
signing key (new tokens carry the new ``kid``) and the introspection endpoint refuses
connections for a few seconds.

Reported: wrongful 200s (must be 0), 5xx other than 503 (0), 503s split into those where no
cached answer could serve (an opaque token first seen in the outage) and the rest (0), requests
refused because of the rotation (0), other wrong statuses (0), and resident memory: the six
workers' VmRSS before and after the load, and one process driving the Guard in-process (same
Redis stores) with distinct tokens up to ``--tokens`` or the time budget, whichever comes first:
a million tokens through HTTP does not fit the time bound on a small machine, and only
in-process memory is of interest (Redis bounds its own with TTLs).

The module is also the app: the workers import ``load:asgi_app`` / ``load:wsgi_app()``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AUDIENCE = "https://api.example.com"
OTHER_AUDIENCE = "https://other.example.com"
MFA_ACR = "urn:stepup-mfa:acr:mfa"  # stepup_mfa.testing.tokens.MFA_ACR
MAX_AGE = 300
CLIENT = ("test-resource-server", "test-rs-secret")
HERE = Path(__file__).resolve().parent
#: How long after its first answer an opaque token counts as cached in Redis everywhere (the
#: asyncio workers write Redis in a task, just after answering).
SETTLE = 0.5


# -- the apps the workers serve --------------------------------------------------------------------


def _guards(asynchronous: bool) -> tuple[Any, Any]:
    """The JWT and the introspection Guard of one worker, both on the shared Redis stores."""
    from stepup_mfa import Guard, JWTVerifier, Policy  # noqa: F401
    from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
    from stepup_mfa.integrations import redis as shared

    port = int(os.environ["LOAD_REDIS_PORT"])
    # Timeouts generous for a loaded CI box: a timed-out read backs off and turns cached answers
    # into misses, which in the outage would be 503s a cache could have served.
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "socket_timeout": 1.0,
                               "socket_connect_timeout": 1.0}  # fmt: skip
    if asynchronous:
        import redis.asyncio

        aclient = redis.asyncio.Redis(**options)
        jwt_store: Any = shared.AsyncTieredStore(
            shared.AsyncRedisStore(aclient, codec=shared.JWT_CODEC, prefix="load:jwt:")
        )
        answers: Any = shared.AsyncTieredStore(
            shared.AsyncRedisStore(aclient, codec=shared.INTROSPECTION_CODEC, prefix="load:in:")
        )
    else:
        import redis

        client = redis.Redis(**options)
        jwt_store = shared.TieredStore(
            shared.RedisStore(client, codec=shared.JWT_CODEC, prefix="load:jwt:")
        )
        answers = shared.TieredStore(
            shared.RedisStore(client, codec=shared.INTROSPECTION_CODEC, prefix="load:in:")
        )
    issuer = os.environ["LOAD_ISSUER"]
    jwt = JWTVerifier(
        issuer, AUDIENCE, algorithms=["ES256"], cache=jwt_store, allow_insecure_http=True
    )
    opaque = IntrospectionVerifier(
        os.environ["LOAD_INTROSPECT"],
        client_auth=ClientSecretBasic(*CLIENT),
        issuer=issuer,
        audience=AUDIENCE,
        cache_ttl=600,
        inactive_ttl=600,
        timeout=2.0,
        store=answers,
        allow_insecure_http=True,
    )
    return Guard(jwt), Guard(opaque)


def _policies() -> dict[str, Any]:
    from stepup_mfa import Policy

    return {
        "read": Policy(scopes="cats:read", name="read"),
        "mfa": Policy(scopes="cats:read", acr_values=MFA_ACR, max_age=MAX_AGE, name="mfa"),
        "opaque": Policy(scopes="cats:read", name="opaque"),
    }


def asgi_app() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from stepup_mfa.integrations.starlette import require

    jwt_guard, opaque_guard = _guards(asynchronous=True)
    policies = _policies()

    async def ok(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/public", ok),
            Route("/read", require(jwt_guard, policies["read"])(ok)),
            Route("/mfa", require(jwt_guard, policies["mfa"])(ok)),
            Route("/opaque/cats", require(opaque_guard, policies["opaque"])(ok)),
        ]
    )


def wsgi_app() -> Any:
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from stepup_mfa.integrations.flask import FlaskStepUp

    jwt_guard, opaque_guard = _guards(asynchronous=False)
    policies = _policies()
    jwt_app, opaque_app = Flask("load-jwt"), Flask("load-opaque")
    jwt_stepup, opaque_stepup = (
        FlaskStepUp(jwt_guard, jwt_app),
        FlaskStepUp(opaque_guard, opaque_app),
    )

    @jwt_app.get("/public")
    def public() -> str:
        return "ok"

    @jwt_app.get("/read")
    @jwt_stepup.require(policies["read"])
    def read() -> str:
        return "ok"

    @jwt_app.get("/mfa")
    @jwt_stepup.require(policies["mfa"])
    def mfa() -> str:
        return "ok"

    @opaque_app.get("/cats")
    @opaque_stepup.require(policies["opaque"])
    def cats() -> str:
        return "ok"

    return DispatcherMiddleware(jwt_app, {"/opaque": opaque_app})


# -- processes -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_port(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while True:
        if process.poll() is not None:
            raise SystemExit(f"a server on port {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"nothing listens on port {port}") from None
            time.sleep(0.1)


def children(pid: int) -> list[int]:
    """Worker processes under a supervisor (uvicorn) or arbiter (gunicorn), from /proc."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        for child in text.split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"resource_tracker" not in cmdline:
                found.append(int(child))
    return found


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class Servers:
    redis_port: int
    redis: subprocess.Popen[bytes]
    uvicorn_port: int
    uvicorn: subprocess.Popen[bytes]
    gunicorn_port: int
    gunicorn: subprocess.Popen[bytes]

    def workers(self) -> dict[str, list[int]]:
        return {"uvicorn": children(self.uvicorn.pid), "gunicorn": children(self.gunicorn.pid)}

    def stop(self) -> None:
        for process in (self.uvicorn, self.gunicorn, self.redis):
            if process.poll() is None:
                process.terminate()
        for process in (self.uvicorn, self.gunicorn, self.redis):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def start_servers(issuer: str, introspect: str, workdir: Path) -> Servers:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("bench/load.py needs redis-server (apt-get install redis-server)")
    redis_port = free_port()
    redis = subprocess.Popen(
        [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    env = {**os.environ, "LOAD_ISSUER": issuer, "LOAD_INTROSPECT": introspect,
           "LOAD_REDIS_PORT": str(redis_port)}  # fmt: skip
    bin_dir = Path(sys.executable).parent
    # The workers' own log (the outage's warnings, any traceback) goes to a file, not the table.
    log = (workdir / "workers.log").open("ab")
    uvicorn_port, gunicorn_port = free_port(), free_port()
    uvicorn = subprocess.Popen(
        [str(bin_dir / "uvicorn"), "--factory", "load:asgi_app", "--app-dir", str(HERE),
         "--host", "127.0.0.1", "--port", str(uvicorn_port), "--workers", "4",
         "--log-level", "warning", "--no-access-log"],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    gunicorn = subprocess.Popen(
        [str(bin_dir / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{gunicorn_port}",
         "--chdir", str(HERE), "--log-level", "warning", "--timeout", "60", "load:wsgi_app()"],
        env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    servers = Servers(redis_port, redis, uvicorn_port, uvicorn, gunicorn_port, gunicorn)
    deadline = time.monotonic() + 60
    try:
        for port, process in ((redis_port, redis), (uvicorn_port, uvicorn),
                              (gunicorn_port, gunicorn)):  # fmt: skip
            wait_port(port, process, deadline)
    except BaseException:
        servers.stop()
        raise
    return servers


# -- the load generator ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request to send and the status its token says it must get."""

    kind: str
    path: str
    token: str | None
    expect: int
    after_rotation: bool = False


@dataclass
class Tally:
    total: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    wrongful_200: int = 0
    unexpected_5xx: int = 0
    served_503_no_cache: int = 0
    served_503_cached: int = 0
    served_503_other: int = 0
    cached_in_outage: int = 0
    rotation_refusals: int = 0
    wrongful_refusals: int = 0
    other_mismatches: int = 0
    transport_errors: int = 0
    examples: list[str] = field(default_factory=list)

    def wrong(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


class Mix:
    """Tokens of every kind, minted by the fake issuer, and what each must get."""

    def __init__(self, issuer: Any, pool: int) -> None:
        self.issuer = issuer
        self.pool = pool
        self.rotated = False
        self.valid_new: list[str] = []
        tokens = issuer.tokens
        now = time.time()
        self.valid = [tokens.mint(scope="cats:read", mfa=True, auth_age=5, expires_in=3600)
                      for _ in range(pool)]  # fmt: skip
        self.password = [tokens.mint(scope="cats:read", expires_in=3600) for _ in range(pool)]
        self.stale = [tokens.mint(scope="cats:read", mfa=True, auth_age=MAX_AGE + 600,
                                  expires_in=3600) for _ in range(pool)]  # fmt: skip
        self.expired = [tokens.mint(scope="cats:read", issued_at=now - 4000,
                                    expires_at=now - 600) for _ in range(pool // 4)]  # fmt: skip
        self.other = [tokens.mint(scope="cats:read", audience=OTHER_AUDIENCE, expires_in=3600)
                      for _ in range(pool // 4)]  # fmt: skip
        self.no_scope = [tokens.mint(scope="dogs:read", expires_in=3600) for _ in range(pool // 4)]
        self.tampered = [t[:-6] + ("AAAAAA" if not t.endswith("AAAAAA") else "BBBBBB")
                         for t in self.valid[: pool // 4]]  # fmt: skip
        self.opaque = [issuer.opaque_token(scope="cats:read", expires_in=3600)
                       for _ in range(pool)]  # fmt: skip
        self.inactive = [issuer.opaque_token(active=False) for _ in range(pool // 4)]
        self.opaque_no_scope = [issuer.opaque_token(scope="dogs:read", expires_in=3600)
                                for _ in range(pool // 4)]  # fmt: skip

    def rotate(self) -> None:
        """The authorization server signs with a new key from now on (the old one stays
        published: a graceful rotation), and clients get tokens with the new ``kid``."""
        self.issuer.rotate_keys(keep_previous=True)
        tokens = self.issuer.tokens
        self.valid_new = [tokens.mint(scope="cats:read", mfa=True, auth_age=5, expires_in=3600)
                          for _ in range(self.pool)]  # fmt: skip
        self.rotated = True

    def fresh_opaque(self) -> str:
        return str(self.issuer.opaque_token(scope="cats:read", expires_in=3600))

    def pick(self, rng: random.Random) -> Call:
        roll = rng.random()
        if roll < 0.22:
            if self.rotated and rng.random() < 0.6:
                return Call("valid-after-rotation", rng.choice(("/read", "/mfa")),
                            rng.choice(self.valid_new), 200, after_rotation=True)  # fmt: skip
            return Call("valid", rng.choice(("/read", "/mfa")), rng.choice(self.valid), 200)
        if roll < 0.30:
            return Call("password-on-read", "/read", rng.choice(self.password), 200)
        if roll < 0.36:
            return Call("password-on-mfa", "/mfa", rng.choice(self.password), 401)
        if roll < 0.42:
            return Call("stale-mfa", "/mfa", rng.choice(self.stale), 401)
        if roll < 0.45:
            return Call("stale-mfa-on-read", "/read", rng.choice(self.stale), 200)
        if roll < 0.49:
            return Call("expired", "/read", rng.choice(self.expired), 401)
        if roll < 0.53:
            return Call("other-audience", "/read", rng.choice(self.other), 401)
        if roll < 0.56:
            return Call("tampered", "/mfa", rng.choice(self.tampered), 401)
        if roll < 0.59:
            return Call("no-scope", "/read", rng.choice(self.no_scope), 403)
        if roll < 0.63:
            return Call("anonymous", "/read", None, 401)
        if roll < 0.67:
            return Call("anonymous-public", "/public", None, 200)
        if roll < 0.85:
            return Call("opaque", "/opaque/cats", rng.choice(self.opaque), 200)
        if roll < 0.90:
            return Call("opaque-new", "/opaque/cats", self.fresh_opaque(), 200)
        if roll < 0.95:
            return Call("opaque-inactive", "/opaque/cats", rng.choice(self.inactive), 401)
        return Call("opaque-no-scope", "/opaque/cats", rng.choice(self.opaque_no_scope), 403)


@dataclass
class Outage:
    start: float = float("inf")
    end: float = float("inf")


async def generate(
    servers: Servers, mix: Mix, *, duration: float, concurrency: int, front: Any, outage_s: float
) -> tuple[Tally, dict[str, Any]]:
    import httpx

    tally = Tally()
    first_answer: dict[str, float] = {}
    outage = Outage()
    events: dict[str, Any] = {}
    urls = [f"http://127.0.0.1:{servers.uvicorn_port}"] * 2 + [
        f"http://127.0.0.1:{servers.gunicorn_port}"
    ]
    start = time.monotonic()
    stop_at = start + duration
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)

    async def faults() -> None:
        await asyncio.sleep(duration * 0.3)
        await asyncio.get_running_loop().run_in_executor(None, mix.rotate)
        events["rotated_at_s"] = round(time.monotonic() - start, 2)
        await asyncio.sleep(max(0.0, start + duration * 0.55 - time.monotonic()))
        outage.start = time.monotonic()
        front.fault = "close"
        events["outage_from_s"] = round(outage.start - start, 2)
        await asyncio.sleep(outage_s)
        front.fault = None
        outage.end = time.monotonic()
        events["outage_to_s"] = round(outage.end - start, 2)

    async def user(seed: int, client: httpx.AsyncClient) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop_at:
            call = mix.pick(rng)
            base = rng.choice(urls)
            headers = {} if call.token is None else {"Authorization": f"Bearer {call.token}"}
            sent = time.monotonic()
            try:
                response = await client.get(base + call.path, headers=headers)
            except httpx.HTTPError as error:
                tally.transport_errors += 1
                tally.wrong(f"{call.kind}: {type(error).__name__}")
                continue
            received = time.monotonic()
            classify(call, response.status_code, sent, received)

    def classify(call: Call, status: int, sent: float, received: float) -> None:
        tally.total += 1
        tally.statuses[status] += 1
        tally.kinds[call.kind] += 1
        opaque = call.path.startswith("/opaque")
        if opaque and status != 503 and call.token is not None:
            first_answer.setdefault(call.token, received)
        if status == call.expect:
            if opaque and sent >= outage.start and received <= outage.end:
                tally.cached_in_outage += 1  # answered from a cache while the AS was away
            return
        where = f"{call.kind} {call.path}: expected {call.expect}, got {status}"
        if status == 200:
            tally.wrongful_200 += 1
        elif status >= 500 and status != 503:
            tally.unexpected_5xx += 1
        elif status == 503:
            answered = first_answer.get(call.token or "")
            cached = answered is not None and sent - answered >= SETTLE
            in_outage = sent <= outage.end + 1.0 and received >= outage.start
            if opaque and in_outage and not cached:
                tally.served_503_no_cache += 1
                return  # what the outage must cost: nothing could answer for this token
            if opaque and in_outage:
                tally.served_503_cached += 1
            else:
                tally.served_503_other += 1
        elif call.expect == 200 and call.after_rotation:
            tally.rotation_refusals += 1
        elif call.expect == 200:
            tally.wrongful_refusals += 1
        else:
            tally.other_mismatches += 1
        tally.wrong(where)

    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        await asyncio.gather(faults(), *(user(seed, client) for seed in range(concurrency)))
    events["seconds"] = round(time.monotonic() - start, 2)
    events["requests_per_second"] = round(tally.total / events["seconds"], 1)
    return tally, events


async def warm_up(servers: Servers, mix: Mix) -> None:
    """Every worker answers before memory is read (each has loaded its keys and apps)."""
    import httpx

    async with httpx.AsyncClient(timeout=30.0) as client:
        for port in (servers.uvicorn_port, servers.gunicorn_port):
            for token in mix.valid[:40]:
                await client.get(f"http://127.0.0.1:{port}/read",
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip


# -- memory, in-process ----------------------------------------------------------------------------


def memory_child(tokens: int, budget: float, maxsize: int, redis_port: int) -> dict[str, Any]:
    """One process driving the Guard with ``tokens`` distinct opaque tokens (or until ``budget``
    seconds): the gunicorn workers' introspection Guard (TieredStore over the shared Redis),
    with an in-process answer instead of the HTTP call. Returns RSS at checkpoints."""
    import redis

    from stepup_mfa import Guard, Policy, RequestView
    from stepup_mfa._verify.cache import MemoryStore
    from stepup_mfa._verify.flow import HttpRequest, HttpResponse
    from stepup_mfa._verify.introspection import ClientSecretBasic, IntrospectionVerifier
    from stepup_mfa.integrations.redis import INTROSPECTION_CODEC, RedisStore, TieredStore

    issuer = "http://127.0.0.1:9"
    exp = int(time.time()) + 3600
    answer = json.dumps({"active": True, "iss": issuer, "aud": AUDIENCE, "sub": "user-1",
                         "scope": "cats:read", "exp": exp, "client_id": "c"}).encode()  # fmt: skip

    class Answer:
        def send(self, request: HttpRequest) -> HttpResponse:
            return HttpResponse(200, {"content-type": "application/json"}, answer)

    client = redis.Redis(host="127.0.0.1", port=redis_port, socket_timeout=1.0)
    store = TieredStore(
        RedisStore(client, codec=INTROSPECTION_CODEC, prefix="load:memory:"),
        local=MemoryStore(maxsize=maxsize),
    )
    verifier = IntrospectionVerifier(
        issuer + "/introspect", client_auth=ClientSecretBasic(*CLIENT), issuer=issuer,
        audience=AUDIENCE, store=store, cache_ttl=600, allow_insecure_http=True,
    )  # fmt: skip
    guard = Guard(verifier, transport=Answer())
    policy = Policy(scopes="cats:read")
    prefix = secrets.token_urlsafe(8)
    pid = os.getpid()
    warm_at = min(tokens, 2 * maxsize)
    checkpoints: list[tuple[int, int]] = [(0, rss_kib(pid))]
    refused = 0
    deadline = time.monotonic() + budget
    done = 0
    for done in range(1, tokens + 1):
        request = RequestView("GET", "/cats", (f"Bearer {prefix}{done:010d}",))
        if not guard.check(request, policy).allowed:
            refused += 1
        if done == warm_at or done % 25_000 == 0:
            checkpoints.append((done, rss_kib(pid)))
        if done % 256 == 0 and time.monotonic() > deadline:
            break
    checkpoints.append((done, rss_kib(pid)))
    warm = next(rss for count, rss in checkpoints if count >= warm_at)
    return {
        "tokens": done,
        "tokens_asked": tokens,
        "local_maxsize": maxsize,
        "refused": refused,
        "rss_start_kib": checkpoints[0][1],
        "rss_warm_kib": warm,
        "rss_end_kib": checkpoints[-1][1],
        "growth_after_warm_kib": checkpoints[-1][1] - warm,
        "checkpoints": checkpoints,
    }


def run_memory(tokens: int, budget: float, maxsize: int, redis_port: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", "--tokens", str(tokens), "--budget",
         str(budget), "--local-maxsize", str(maxsize), "--redis-port", str(redis_port)],
        capture_output=True, text=True, check=True, timeout=budget + 120,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from stepup_mfa.testing import FakeIssuer
    from stepup_mfa.testing.server import LocalHTTPServer

    raw: dict[str, Any] = {"mode": "smoke" if args.smoke else "full"}
    with (
        FakeIssuer(AUDIENCE, algorithm="ES256", introspection_client=CLIENT) as issuer,
        LocalHTTPServer(poll_interval=0.05) as front,
        tempfile.TemporaryDirectory() as workdir,
    ):
        front.routes["/introspect"] = issuer.server.routes["/introspect"]
        mix = Mix(issuer, pool=args.pool)
        servers = start_servers(issuer.issuer, front.url + "/introspect", Path(workdir))
        try:
            asyncio.run(warm_up(servers, mix))
            workers = servers.workers()
            before = {pid: rss_kib(pid) for group in workers.values() for pid in group}
            tally, events = asyncio.run(
                generate(
                    servers,
                    mix,
                    duration=args.duration,
                    concurrency=args.concurrency,
                    front=front,
                    outage_s=args.outage,
                )
            )
            after = {pid: rss_kib(pid) for pid in before}
            raw["workers"] = {kind: len(pids) for kind, pids in workers.items()}
            raw["events"] = events
            raw["counts"] = {
                "requests": tally.total,
                "wrongful_200": tally.wrongful_200,
                "unexpected_5xx": tally.unexpected_5xx,
                "503_no_cached_answer": tally.served_503_no_cache,
                "503_with_cached_answer": tally.served_503_cached,
                "503_other": tally.served_503_other,
                "opaque_answered_in_outage": tally.cached_in_outage,
                "rotation_refusals": tally.rotation_refusals,
                "wrongful_refusals": tally.wrongful_refusals,
                "other_mismatches": tally.other_mismatches,
                "transport_errors": tally.transport_errors,
            }
            raw["statuses"] = dict(sorted(tally.statuses.items()))
            raw["kinds"] = dict(sorted(tally.kinds.items()))
            raw["examples"] = tally.examples
            raw["worker_rss_kib"] = {"before": sum(before.values()), "after": sum(after.values()),
                                     "per_worker_after": sorted(after.values())}  # fmt: skip
            text = (Path(workdir) / "workers.log").read_text(errors="replace")
            raw["worker_log_tracebacks"] = text.count("Traceback")
            raw["memory"] = run_memory(args.tokens, args.budget, args.local_maxsize,
                                       servers.redis_port)  # fmt: skip
        finally:
            servers.stop()
    counts = raw["counts"]
    memory = raw["memory"]
    raw["bounded_memory"] = memory["growth_after_warm_kib"] <= args.max_growth_kib
    raw["correct"] = (
        all(counts[name] == 0 for name in (
            "wrongful_200", "unexpected_5xx", "503_with_cached_answer", "503_other",
            "rotation_refusals", "wrongful_refusals", "other_mismatches", "transport_errors"))
        and memory["refused"] == 0
        and raw["worker_log_tracebacks"] == 0
        and raw["workers"] == {"uvicorn": 4, "gunicorn": 2}
        and counts["opaque_answered_in_outage"] > 0  # the outage happened, caches served
        and raw["kinds"].get("valid-after-rotation", 0) > 0  # the rotation happened
    )  # fmt: skip
    return raw


def render(raw: dict[str, Any]) -> str:
    counts, memory, rss = raw["counts"], raw["memory"], raw["worker_rss_kib"]
    events = raw["events"]
    rows = [
        ("requests (4 uvicorn + 2 gunicorn workers)", f"{counts['requests']} "
         f"({events['requests_per_second']}/s over {events['seconds']} s)"),
        ("wrongful 200", counts["wrongful_200"]),
        ("5xx other than 503", counts["unexpected_5xx"]),
        ("503, no cached answer could serve", counts["503_no_cached_answer"]),
        ("503 although a cached answer existed", counts["503_with_cached_answer"]),
        ("503 elsewhere", counts["503_other"]),
        ("opaque tokens answered from cache in the outage", counts["opaque_answered_in_outage"]),
        ("refused because of the key rotation", counts["rotation_refusals"]),
        ("other valid requests refused", counts["wrongful_refusals"]),
        ("other wrong statuses", counts["other_mismatches"]),
        ("transport errors", counts["transport_errors"]),
        ("tracebacks in the workers' log", raw["worker_log_tracebacks"]),
        ("key rotation at / introspection outage", f"{events['rotated_at_s']} s / "
         f"{events['outage_from_s']}-{events['outage_to_s']} s"),
        ("workers' RSS before / after (sum)", f"{rss['before'] // 1024} / "
         f"{rss['after'] // 1024} MiB"),
        (f"in-process: distinct tokens (of {memory['tokens_asked']})", memory["tokens"]),
        ("in-process RSS start / warm / end", f"{memory['rss_start_kib'] // 1024} / "
         f"{memory['rss_warm_kib'] // 1024} / {memory['rss_end_kib'] // 1024} MiB"),
        ("in-process growth after warm-up", f"{memory['growth_after_warm_kib']} KiB"),
        ("verdict", "correct" if raw["correct"] and raw["bounded_memory"] else "WRONG"),
    ]  # fmt: skip
    lines = [f"bench/load.py ({raw['mode']})", "", "| what | value |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    if raw["examples"]:
        lines += ["", "first wrong answers:", *(f"- {text}" for text in raw["examples"])]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the short CI run")
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    parser.add_argument("--duration", type=float, default=None, help="seconds of load")
    parser.add_argument("--outage", type=float, default=None, help="seconds of outage")
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--pool", type=int, default=None, help="pre-minted tokens per kind")
    parser.add_argument("--tokens", type=int, default=None, help="distinct tokens in-process")
    parser.add_argument("--budget", type=float, default=None, help="seconds for the memory part")
    parser.add_argument("--local-maxsize", type=int, default=None)
    parser.add_argument("--max-growth-kib", type=int, default=16 * 1024)
    parser.add_argument(
        "--memory-child",
        action="store_true",
        help="only the in-process memory part, against --redis-port; JSON out",
    )
    parser.add_argument("--redis-port", type=int, default=0, help="a running redis-server")
    args = parser.parse_args()
    smoke = args.smoke
    defaults = {"duration": 10.0 if smoke else 60.0, "outage": 2.5 if smoke else 6.0,
                "concurrency": 12 if smoke else 32, "pool": 60 if smoke else 300,
                "tokens": 8_000 if smoke else 1_000_000, "budget": 7.0 if smoke else 60.0,
                "local_maxsize": 1_000 if smoke else 10_000}  # fmt: skip
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.memory_child:
        print(json.dumps(memory_child(args.tokens, args.budget, args.local_maxsize,
                                      args.redis_port)))  # fmt: skip
        return
    raw = run(args)
    print(render(raw))
    if args.json is not None:
        args.json.write_text(json.dumps(raw, indent=2) + "\n")
    if not (raw["correct"] and raw["bounded_memory"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
