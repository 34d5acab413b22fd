"""The Starlette adapter, now in :mod:`stepup_mfa.adapters.starlette` (this path stays)."""

from ..adapters.starlette import *  # noqa: F403
from ..adapters.starlette import __all__ as __all__
