"""The table of request spellings, and the one invariant every answer must keep.

A spelling is a method, a request target (bytes on the wire, ``{origin}`` replaced by the
server's ``127.0.0.1:PORT``) and headers. The invariant (BIND-1, BIND-2, BIND-4): if a handler
answered, the credential sent satisfies that handler's policy. Whichever way a router reads the
path, the policy applied must be the policy of the handler that ran.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from binding_apps import HANDLER_POLICIES
from binding_rawhttp import RawResponse, build_request, exchange

from stepup_mfa import Policy

#: The HTTP targets attacked in every app: (id, path)
TARGETS = (("cats", "/cats/"), ("dogs", "/dogs/"), ("users", "/users/7/"), ("api", "/api/cats/"))
#: FastAPI only: a route protected by the dependency, as a control group
DEP_TARGET = ("dep", "/dep/cats/")
WS_TARGET = ("ws", "/ws/cats")
LOOKALIKES = {"a": "\u0430", "o": "\u043e", "e": "\u0435", "c": "\u0441", "s": "\u0455"}


@dataclass(frozen=True)
class Spelling:
    id: str
    target: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    host: str | None = "{origin}"
    version: str = "HTTP/1.1"
    websocket: bool = False
    extra_hosts: tuple[str, ...] = field(default=())

    def request(self, port: int, authorization: list[tuple[bytes, bytes]]) -> bytes:
        origin = f"127.0.0.1:{port}"

        def wire(text: str) -> bytes:
            return text.replace("{origin}", origin).encode("utf-8")

        headers = [(wire(n), wire(v)) for n, v in self.headers]
        headers += [(b"Host", wire(h)) for h in self.extra_hosts]
        headers += authorization
        if self.websocket:
            key = base64.b64encode(b"binding-test-key").decode()
            headers += [
                (b"Upgrade", b"websocket"),
                (b"Connection", b"Upgrade"),
                (b"Sec-WebSocket-Key", key.encode()),
                (b"Sec-WebSocket-Version", b"13"),
            ]
        host = None if self.host is None else wire(self.host)
        return build_request(
            wire(self.method),
            wire(self.target),
            host,
            headers,
            wire(self.version),
            close=not self.websocket,
        )


def _lookalike(path: str, encode: bool) -> str:
    for index, char in enumerate(path):
        if char in LOOKALIKES:
            swapped = LOOKALIKES[char]
            if encode:
                swapped = "".join(f"%{b:02X}" for b in swapped.encode("utf-8"))
            return path[:index] + swapped + path[index + 1 :]
    return path


def path_variants(path: str) -> Iterator[tuple[str, str]]:
    """(id, target) spellings of ``path`` (with or without a trailing slash)."""
    slash = "/" if path.endswith("/") else ""
    base = path[: -len(slash)] if slash else path
    inner = base.rfind("/")  # the slash before the last segment
    first = path[1]
    yield "canonical", path
    # control characters, encoded: Starlette's `$` matches before a trailing newline
    for code in ("0A", "0D", "0D%0A", "00", "09", "20"):
        yield f"pct{code.replace('%', '')}_end", f"{path}%{code}"
    for code in ("0A", "00", "09"):
        yield f"pct{code}_before_slash", f"{base}%{code}{slash}"
    yield "pct0A_start", f"/%0A{path[1:]}"
    yield "pct0A_end_query", f"{path}%0A?x=1"
    # control characters, raw on the wire
    for name, char in (("tab", "\t"), ("nul", "\x00"), ("lf", "\n"), ("cr", "\r")):
        yield f"raw_{name}_end", path + char
    yield "raw_del_end", path + "\x7f"
    yield "raw_space_end", path + " "
    # empty segments and encoded slashes
    yield "slash2_start", "/" + path
    yield "slash3_start", "//" + path
    yield "slash2_end", path + "/"
    if inner > 0:
        yield "slash2_inner", base[:inner] + "/" + base[inner:] + slash
        yield "pct2F_inner", base[:inner] + "%2F" + base[inner + 1 :] + slash
    yield "pct2F_start", "/%2F" + path[1:]
    yield "pct2f_start", "/%2f" + path[1:]
    yield "pct2F_end", (base + "%2F") if slash else (path + "%2F")
    yield "pct252F_start", "/%252F" + path[1:]
    # dot segments
    yield "dot_start", "/." + path
    yield "dotdot_start", "/x/.." + path
    yield "pct2E_start", "/%2E" + path
    yield "pct2E2E_start", "/%2E%2E" + path
    yield "pct2E2E_x_start", "/x/%2E%2E" + path
    yield "dot_end", path + "."
    yield "dotdot_end", path + ".."
    yield "dot_slash_end", path + "./"
    yield "x_dotdot_end", path + ("x/../" if slash else "/x/..")
    # case
    yield "upper", path.upper()
    yield "title", "/" + first.upper() + path[2:]
    # ; parameters
    yield "semicolon_param", f"{base};x=1{slash}"
    yield "semicolon_end", path + ";x"
    yield "semicolon_bare", path + ";"
    # encoded ? and #, and the real ones
    yield "pct3F_end", path + "%3F"
    yield "pct3F_before_slash", f"{base}%3F{slash}"
    yield "pct23_end", path + "%23"
    yield "pct23_before_slash", f"{base}%23{slash}"
    yield "query", path + "?x=1"
    yield "fragment", path + "#x"
    # trailing characters
    if slash:
        yield "no_slash", base
    # backslash
    yield "backslash_end", f"{base}\\"
    yield "pct5C_start", "/%5C" + path[1:]
    yield "pct5C_end", f"{base}%5C"
    # absolute form
    yield "absolute", "http://{origin}" + path
    yield "absolute_slash2", "http://{origin}/" + path
    yield "absolute_pct0A", "http://{origin}" + path + "%0A"
    # unicode look-alikes and overlong UTF-8
    yield "cyrillic_raw", _lookalike(path, encode=False)
    yield "cyrillic_pct", _lookalike(path, encode=True)
    if slash:
        yield "fullwidth_solidus_raw_end", base + "\uff0f"
        yield "fullwidth_solidus_pct_end", base + "%EF%BC%8F"
        yield "overlong_slash_end", base + "%C0%AF"
    yield "fullwidth_solidus_pct_start", "/%EF%BC%8F" + path[1:]
    yield "overlong_slash_start", "/%C0%AF" + path[1:]
    # an unreserved character percent-encoded (equivalent to the canonical path)
    yield "pct_letter", f"/%{ord(first):02X}{path[2:]}"


def _dedupe(items: list[Spelling]) -> list[Spelling]:
    seen: set[tuple[str, str, tuple[tuple[str, str], ...], str | None, str]] = set()
    out: list[Spelling] = []
    for item in items:
        key = (item.method, item.target, item.headers, item.host, item.version)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


PREFLIGHT = (("Origin", "http://evil.example"), ("Access-Control-Request-Method", "GET"))


def method_variants(name: str, path: str) -> Iterator[Spelling]:
    for method in ("get", "Get", "HEAD", "OPTIONS", "FOO", "POST"):
        yield Spelling(f"{name}-method_{method}", path, method=method)
    yield Spelling(f"{name}-method_HEAD_pct0A", path + "%0A", method="HEAD")
    yield Spelling(f"{name}-method_get_pct0A", path + "%0A", method="get")
    yield Spelling(f"{name}-preflight", path, method="OPTIONS", headers=PREFLIGHT)
    yield Spelling(f"{name}-preflight_pct0A", path + "%0A", method="OPTIONS", headers=PREFLIGHT)
    yield Spelling(f"{name}-origin_only", path, method="OPTIONS", headers=PREFLIGHT[:1])


def host_variants(name: str, path: str) -> Iterator[Spelling]:
    for target_id, target in (("", path), ("_pct0A", path + "%0A")):
        yield Spelling(f"{name}-host_evil{target_id}", target, host="evil.example")
        yield Spelling(f"{name}-host_empty{target_id}", target, host="")
        yield Spelling(f"{name}-host_missing{target_id}", target, host=None)
        yield Spelling(
            f"{name}-host_missing_http10{target_id}", target, host=None, version="HTTP/1.0"
        )
        yield Spelling(f"{name}-host_twice{target_id}", target, extra_hosts=("evil.example",))
        yield Spelling(f"{name}-host_with_path{target_id}", target, host="{origin}/api")


def http_spellings(app: str) -> list[Spelling]:
    """Every HTTP spelling for ``app`` (``starlette``, ``fastapi`` or ``flask``)."""
    targets = [*TARGETS, DEP_TARGET] if app == "fastapi" else list(TARGETS)
    items: list[Spelling] = []
    for name, path in targets:
        items += [Spelling(f"{name}-{vid}", target) for vid, target in path_variants(path)]
        items += method_variants(name, path)
        if app == "starlette" and name == "cats":
            items += host_variants(name, path)
    return _dedupe(items)


def websocket_spellings() -> list[Spelling]:
    name, path = WS_TARGET
    items = [
        Spelling(f"{name}-{vid}", target, websocket=True)
        for vid, target in path_variants(path)
        if not vid.startswith("raw_")  # raw control characters: not a websocket case
    ]
    items.append(Spelling(f"{name}-method_get", path, method="get", websocket=True))
    items.append(Spelling(f"{name}-host_evil", path, host="evil.example", websocket=True))
    return _dedupe(items)


# -- the invariant ---------------------------------------------------------------------------

#: what each credential can prove
STRENGTH = {"none": 0, "password": 1, "mfa": 2}


def needed(policy: Policy) -> int:
    """The weakest credential of the three that satisfies ``policy``."""
    if not policy.authenticated:
        return 0
    if policy.acr_values or policy.max_age is not None or policy.amr_groups:
        return 2
    return 1


def send(port: int, spelling: Spelling, authorization: list[tuple[bytes, bytes]]) -> RawResponse:
    return exchange(
        port,
        spelling.request(port, authorization),
        head=spelling.method.upper() == "HEAD",
        upgrade=spelling.websocket,
    )


def assert_bound(response: RawResponse, credential: str, where: Callable[[], str]) -> None:
    """The invariant: no 5xx, and a handler that answered had its policy met."""
    assert response.status is None or response.status < 500, (
        f"server error: {response.describe()} ({where()})"
    )
    handler = response.handler
    if response.status == 101 and handler is None:
        handler = "ws_cats"  # the only websocket route; its first frame did not arrive in time
    if handler is None:
        return
    assert handler in HANDLER_POLICIES, f"unknown handler {handler!r} ({where()})"
    policy = HANDLER_POLICIES[handler]
    assert STRENGTH[credential] >= needed(policy), (
        f"handler {handler!r} (needs {policy.name or policy!r}) answered {response.status} to a "
        f"{credential!r} credential: {response.describe()} ({where()})"
    )
