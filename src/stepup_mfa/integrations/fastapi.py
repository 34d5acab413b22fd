"""The Fastapi adapter; it lives in :mod:`stepup_mfa.adapters.fastapi` (this import path stays)."""

from ..adapters.fastapi import *  # noqa: F403
from ..adapters.fastapi import __all__ as __all__
