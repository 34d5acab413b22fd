"""FastMCP's verifier interface, in :mod:`stepup_mfa.adapters.fastmcp` (this path is public)."""

from .._extras import missing_extra as _missing_extra

try:
    from ..adapters.fastmcp import *  # noqa: F403
    from ..adapters.fastmcp import __all__ as __all__
except ModuleNotFoundError as error:  # FastMCP is an extra: say which one, in one line
    hint = _missing_extra(error, "fastmcp", "stepup_mfa.integrations.fastmcp")
    if hint is None:
        raise
    raise hint from None
