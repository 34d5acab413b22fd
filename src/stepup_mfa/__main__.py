"""``python -m stepup_mfa``: the same as the ``stepup-mfa`` command."""

import sys

from .cli import main

sys.exit(main())
