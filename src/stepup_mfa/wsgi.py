"""The WSGI middleware; it lives in :mod:`stepup_mfa.adapters.wsgi` (this import path stays)."""

from .adapters.wsgi import *  # noqa: F403
from .adapters.wsgi import __all__ as __all__
