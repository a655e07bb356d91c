"""``python -m hmmrisk``: see :mod:`hmmrisk.cli`."""

from .cli import main

raise SystemExit(main())
