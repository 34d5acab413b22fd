"""The ASGI middleware; it lives in :mod:`stepup_mfa.adapters.asgi` (this import path stays)."""

from ._extras import missing_extra as _missing_extra

try:
    from .adapters.asgi import *  # noqa: F403
    from .adapters.asgi import __all__ as __all__
except ModuleNotFoundError as error:  # the framework is an extra: say which one, in one line
    hint = _missing_extra(error, "starlette", "stepup_mfa.asgi")
    if hint is None:
        raise
    raise hint from None
