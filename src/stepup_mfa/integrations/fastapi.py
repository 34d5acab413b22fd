"""The Fastapi adapter; it lives in :mod:`stepup_mfa.adapters.fastapi` (this import path stays)."""

from .._extras import missing_extra as _missing_extra

try:
    from ..adapters.fastapi import *  # noqa: F403
    from ..adapters.fastapi import __all__ as __all__
except ModuleNotFoundError as error:  # the framework is an extra: say which one, in one line
    hint = _missing_extra(error, "fastapi", "stepup_mfa.integrations.fastapi")
    if hint is None:
        raise
    raise hint from None
