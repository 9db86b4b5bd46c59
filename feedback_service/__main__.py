"""``python -m feedback_service``: see :mod:`feedback_service.cli`."""

import sys

from .cli import main

sys.exit(main())
