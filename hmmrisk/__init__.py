"""hmmrisk: the risk of head tuning on a frozen encoder of a Hidden Markov Model.

The executable companion of the book *How model size changes the risk of head
tuning* (after Luo, Wang, Huang, arXiv 2410.00699).  One module per idea:

* :mod:`hmmrisk.hmm`: the linear-Gaussian HMM and its frozen encoder;
* :mod:`hmmrisk.population`: Lemma 2, the population head ``B*`` and ``Sigma_r``;
* :mod:`hmmrisk.head`: the least-squares (minimum-norm or ridge) head;
* :mod:`hmmrisk.risk`: Lemma 1 and Monte Carlo risk over training sets;
* :mod:`hmmrisk.theory`: Theorem 1, Definitions 1-3 (the predicted risk);
* :mod:`hmmrisk.curves`, :mod:`hmmrisk.plotting`: risk against model size,
  theory and simulation, and the paper's Figures 1-2;
* :mod:`hmmrisk.finite_n`: exact finite-n means against the asymptotic predictions;
* :mod:`hmmrisk.sweet_spot`: the model size that minimises the total risk;
* :mod:`hmmrisk.trajectory`: heads trained on one trajectory instead of i.i.d. pairs;
* :mod:`hmmrisk.sweep`: theory and simulation over a grid of ``(n, p, d, sigma^2, snr)``,
  serially or on any ``concurrent.futures.Executor`` (a Dask ``Client`` is one);
* :mod:`hmmrisk.empirical`: the same theory on a user's own features
  (:func:`population_from_data`), with a simulation on their rows;
* :mod:`hmmrisk.figure_data`: digests of the arrays behind each figure;
* :mod:`hmmrisk.transformer`: the Transformer experiment of the paper's Figure 3
  (a subpackage that imports torch, so it is not loaded here).

The command line is ``hmmrisk {risk,figure,sweep,features} --help`` (or ``python -m hmmrisk``).
"""

from . import _signals

# Started as the command line: Ctrl-C or SIGTERM during the imports below (NumPy's take
# 0.2 s) exits with one line, not a traceback.  Importing the library changes nothing.
_signals.guard_startup()

import importlib as _importlib
import importlib.metadata as _metadata

from . import figure_data, theory
from .empirical import FeaturePopulation, population_from_data
from .head import fit_head, head_from_svd
from .hmm import HeadTuningModel, encoder_weights, haar_orthogonal, make_model
from .population import Population, population
from .risk import RiskEstimate, conditional_risk, fitted_risk, simulate_risk

try:
    #: The package's version, defined once: ``version`` in pyproject.toml.
    __version__ = _metadata.version(__name__)
except _metadata.PackageNotFoundError:      # a source tree on sys.path, never installed
    __version__ = "0+unknown"

__all__ = [
    "FeaturePopulation", "HeadTuningModel", "Population", "RiskEstimate", "conditional_risk",
    "encoder_weights", "fit_head", "fitted_risk", "haar_orthogonal", "head_from_svd", "make_model",
    "population", "population_from_data", "simulate_risk", "figure_data", "theory",
]

#: Submodules loaded on first access (``hr.plotting`` imports matplotlib, so
#: ``import hmmrisk`` stays light); the torch modules are not among them.
_LAZY = ("cli", "curves", "finite_n", "head", "hmm", "plotting", "population", "risk",
         "sweep", "sweet_spot", "trajectory")


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
