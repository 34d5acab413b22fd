"""The Starlette adapter; it lives in :mod:`stepup_mfa.adapters.starlette` (this import path stays)."""

from ..adapters.starlette import *  # noqa: F403
from ..adapters.starlette import __all__ as __all__
