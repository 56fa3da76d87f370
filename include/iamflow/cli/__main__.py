"""``python -m iamflow.cli``: the ``iamflow`` command."""

from __future__ import annotations

import sys

from iamflow.cli import main

sys.exit(main())
