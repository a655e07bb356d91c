"""The ``Examples`` sections of the package's docstrings run and print what they say.

Every module of :mod:`hmmrisk` that does not need torch is collected (the
torch modules are skipped so that the numpy suite runs without it).
"""

import doctest
import importlib
import pkgutil
import re

import pytest

import hmmrisk

NAMES = [m.name for m in pkgutil.walk_packages(hmmrisk.__path__, "hmmrisk.")]
TORCH = [n for n in NAMES
         if re.search(r"^\s*(import|from) torch", open(importlib.util.find_spec(n).origin).read(), re.M)]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in TORCH])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_main_entry_points_have_examples():
    from hmmrisk import plotting, sweep, theory
    for f in (theory.theorem1, theory.solve_kappa, theory.definition2, theory.definition3,
              theory.predicted_risk, theory.ridge_orthogonal, plotting.style, sweep.run_point,
              hmmrisk.make_model, hmmrisk.population, hmmrisk.simulate_risk, hmmrisk.fit_head):
        assert "Examples\n" in (f.__doc__ or ""), f.__qualname__
