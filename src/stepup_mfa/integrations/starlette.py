"""The Starlette adapter, now in :mod:`stepup_mfa.adapters.starlette` (this path stays)."""

from .._extras import missing_extra as _missing_extra

try:
    from ..adapters.starlette import *  # noqa: F403
    from ..adapters.starlette import __all__ as __all__
except ModuleNotFoundError as error:  # the framework is an extra: say which one, in one line
    hint = _missing_extra(error, "starlette", "stepup_mfa.integrations.starlette")
    if hint is None:
        raise
    raise hint from None
