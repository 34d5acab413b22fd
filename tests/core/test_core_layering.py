"""The core layer imports only the standard library and itself, reads no clock and does no I/O."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import stepup_mfa._core

CORE = Path(stepup_mfa._core.__file__).parent
CORE_FILES = sorted(CORE.glob("*.py"))

#: Standard-library modules that reach the network, the file system, processes or the clock.
FORBIDDEN_MODULES = {
    "asyncio",
    "ftplib",
    "http.client",
    "http.server",
    "io",
    "os",
    "pathlib",
    "requests",
    "select",
    "selectors",
    "shutil",
    "smtplib",
    "socket",
    "socketserver",
    "ssl",
    "subprocess",
    "tempfile",
    "threading",
    "time",
    "urllib.request",
}
#: Calls that read the clock or open something, by their dotted name.
FORBIDDEN_CALLS = {
    "open",
    "input",
    "print",
    "time.time",
    "time.time_ns",
    "time.monotonic",
    "time.perf_counter",
    "datetime.now",
    "datetime.utcnow",
    "datetime.today",
    "date.today",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "datetime.date.today",
}


def imported_modules(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """Absolute module names imported by ``tree`` (level > 0 means a relative import)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, 0
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def violations(source: str) -> list[str]:
    tree = ast.parse(source)
    found = []
    for module, level in imported_modules(tree):
        if level == 1:
            continue  # ``from .errors import ...``: a sibling in _core
        if level > 1:
            found.append(f"import {'.' * level}{module} (outside _core)")
            continue
        top = module.split(".")[0]
        if module.startswith("stepup_mfa."):
            if not module.startswith("stepup_mfa._core"):
                found.append(f"import {module}")
        elif top not in sys.stdlib_module_names:
            found.append(f"import {module} (not standard library)")
        if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_MODULES):
            found.append(f"import {module} (I/O or clock)")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = dotted(node.func)
            if name in FORBIDDEN_CALLS:
                found.append(f"call {name}()")
    return found


@pytest.mark.parametrize("path", CORE_FILES, ids=[p.name for p in CORE_FILES])
def test_core_module_is_pure(path: Path) -> None:
    assert violations(path.read_text(encoding="utf-8")) == []


def test_core_modules_were_found() -> None:
    assert {"challenge.py", "credentials.py", "decision.py", "policy.py", "principal.py"} <= {
        p.name for p in CORE_FILES
    }


# -- the checker itself catches what it should (so the tests above can fail) -------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("import httpx", "import httpx (not standard library)", id="third-party"),
        pytest.param("from joserfc import jwt", "import joserfc (not standard library)", id="from"),
        pytest.param(
            "from stepup_mfa._verify import jwks", "import stepup_mfa._verify", id="upper-layer"
        ),
        pytest.param("import socket", "import socket (I/O or clock)", id="socket"),
        pytest.param(
            "import urllib.request", "import urllib.request (I/O or clock)", id="urllib-request"
        ),
        pytest.param("from time import time", "import time (I/O or clock)", id="from-time"),
        pytest.param("x = open('f')", "call open()", id="open"),
        pytest.param("from .._verify import jwks", "import .._verify (outside _core)", id="up"),
        pytest.param(
            "import datetime\nd = datetime.datetime.now()",
            "call datetime.datetime.now()",
            id="datetime-module-now",
        ),
        pytest.param(
            "from datetime import datetime\nd = datetime.now()",
            "call datetime.now()",
            id="datetime-now",
        ),
    ],
)
def test_checker_flags(source: str, expected: str) -> None:
    assert expected in violations(source)


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("from .errors import InvalidToken", id="relative"),
        pytest.param("from stepup_mfa._core.errors import InvalidToken", id="absolute-core"),
        pytest.param("import re\nfrom urllib.parse import parse_qs", id="stdlib"),
        pytest.param("from http import HTTPStatus", id="http-status"),
    ],
)
def test_checker_allows(source: str) -> None:
    assert violations(source) == []
