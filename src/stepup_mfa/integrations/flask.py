"""The Flask adapter; it lives in :mod:`stepup_mfa.adapters.flask` (this import path stays)."""

from ..adapters.flask import *  # noqa: F403
from ..adapters.flask import __all__ as __all__
