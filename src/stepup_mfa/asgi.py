"""The ASGI middleware; it lives in :mod:`stepup_mfa.adapters.asgi` (this import path stays)."""

from .adapters.asgi import *  # noqa: F403
from .adapters.asgi import __all__ as __all__
