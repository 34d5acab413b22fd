"""The Flask adapter; it lives in :mod:`stepup_mfa.adapters.flask` (this import path stays)."""

from .._extras import missing_extra as _missing_extra

try:
    from ..adapters.flask import *  # noqa: F403
    from ..adapters.flask import __all__ as __all__
except ModuleNotFoundError as error:  # the framework is an extra: say which one, in one line
    hint = _missing_extra(error, "flask", "stepup_mfa.integrations.flask")
    if hint is None:
        raise
    raise hint from None
