"""The MCP integration, in :mod:`stepup_mfa.adapters.mcp` and :mod:`stepup_mfa.adapters.client`
(this import path is the public one)."""

from .._extras import missing_extra as _missing_extra

try:
    from ..adapters.client import *  # noqa: F403
    from ..adapters.client import __all__ as _client_all
    from ..adapters.mcp import *  # noqa: F403
    from ..adapters.mcp import __all__ as _mcp_all
except ModuleNotFoundError as error:  # the SDK is an extra: say which one, in one line
    hint = _missing_extra(error, "mcp", "stepup_mfa.integrations.mcp")
    if hint is None:
        raise
    raise hint from None

__all__ = sorted([*_mcp_all, *_client_all])
