"""The WSGI middleware; it lives in :mod:`stepup_mfa.adapters.wsgi` (this import path stays)."""

from ._extras import missing_extra as _missing_extra

try:
    from .adapters.wsgi import *  # noqa: F403
    from .adapters.wsgi import __all__ as __all__
except ModuleNotFoundError as error:  # the framework is an extra: say which one, in one line
    hint = _missing_extra(error, "flask", "stepup_mfa.wsgi")
    if hint is None:
        raise
    raise hint from None
