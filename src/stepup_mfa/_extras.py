"""Optional dependencies: one line naming the extra to install when one is missing.

The core (``pip install stepup-mfa``) needs joserfc, cryptography, cachetools and httpx. Each
framework adapter, the Redis store and the development tools need an extra; importing one without
it raises a :class:`ModuleNotFoundError` whose message is one line (``pip install
'stepup-mfa[flask]'``), without the chained traceback of the framework's own import error.
"""

from __future__ import annotations

import importlib.util

#: The top-level modules each extra provides (what an import of its adapter may miss).
EXTRA_MODULES: dict[str, frozenset[str]] = {
    "flask": frozenset({"flask", "werkzeug", "asgiref"}),
    "starlette": frozenset({"starlette", "anyio"}),
    "fastapi": frozenset({"fastapi", "starlette", "anyio", "pydantic"}),
    "redis": frozenset({"redis"}),
    "otel": frozenset({"opentelemetry"}),
    "mcp": frozenset({"mcp", "mcp_types", "httpx2", "starlette", "anyio", "pydantic"}),
    "fastmcp": frozenset({"fastmcp", "mcp", "mcp_types", "httpx2", "starlette", "pydantic"}),
    "devidp": frozenset({"authlib", "pyotp", "flask", "werkzeug", "segno"}),
    "demo": frozenset({"authlib", "pyotp", "flask", "werkzeug", "segno", "starlette", "uvicorn"}),
}


def hint(what: str, extra: str, module: str | None = None) -> str:
    """``<what> needs the <extra> extra (<module> is not installed): pip install '...'``."""
    missing = f" ({module} is not installed)" if module else ""
    return f"{what} needs the {extra} extra{missing}: pip install 'stepup-mfa[{extra}]'"


def missing_extra(error: ModuleNotFoundError, extra: str, what: str) -> ModuleNotFoundError | None:
    """The one-line error to raise (``from None``) when ``error`` is a module of ``extra``.

    ``None`` when the missing module is not one the extra provides: that is a bug to see in full,
    not an installation to fix, so the caller re-raises the original.
    """
    top = (error.name or "").partition(".")[0]
    if top not in EXTRA_MODULES[extra]:
        return None
    return ModuleNotFoundError(hint(what, extra, top), name=error.name)


def first_missing(extra: str) -> str | None:
    """The first module of ``extra`` that cannot be imported here, or ``None``."""
    for module in sorted(EXTRA_MODULES[extra]):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return module
    return None
