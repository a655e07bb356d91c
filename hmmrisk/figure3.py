"""Deprecated alias of :mod:`hmmrisk.transformer` (the Figure 3 code moved there; chapter {ref}`ch-transformer`).

Kept so that ``from hmmrisk import figure3`` keeps working while callers move
to ``import hmmrisk.transformer``; it defines nothing of its own.
"""

from .transformer import *  # noqa: F401,F403
from .transformer import __all__  # noqa: F401
