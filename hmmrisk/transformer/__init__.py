"""The Transformer experiment of Figure 3 (chapter :ref:`ch-transformer`); needs torch.

Imported on demand (``import hmmrisk.transformer as tf``); ``import hmmrisk``
does not load it or torch. One module per idea:

* :mod:`~hmmrisk.transformer.hmm`: the discrete HMM that generates every sequence;
* :mod:`~hmmrisk.transformer.network`: the causal Transformer, its pre-training,
  its language-model loss and its frozen features;
* :mod:`~hmmrisk.transformer.heads`: the batched softmax-head solver, the
  early-stopped gradient-descent head and the minimum-norm squared-loss head;
* :mod:`~hmmrisk.transformer.separability`: the exact linear-separability test;
* :mod:`~hmmrisk.transformer.features`: the noise family and the synthetic families;
* :mod:`~hmmrisk.transformer.geometry`: participation ratio, effective rank,
  tail share and the linear probe of the belief state;
* :mod:`~hmmrisk.transformer.protocol`: every setting, the seeds included;
* :mod:`~hmmrisk.transformer.experiment`: the runners;
* :mod:`~hmmrisk.transformer.results`: typed results with named axes, their
  summary and paired comparisons over seeds;
* :mod:`~hmmrisk.transformer.plots`: the figures.
"""

from . import features, geometry, heads, hmm, network, plots, separability
from .experiment import (FrozenFeatures, family_features, feature_theory, frozen_features,
                         reference_losses, ridge_path, run, run_synthetic)
from .geometry import effective_rank, participation_ratio, probe_r2, tail_share
from .heads import (HeadScores, SoftmaxFit, early_stopped_head, fit_heads, fit_softmax_head,
                    head_design, min_norm_squared_head, softmax_metrics, softmax_objective,
                    squared_loss)
from .hmm import DiscreteHMM, random_sparse_hmm
from .network import CausalTransformer, extract_features, lm_loss, pretrain, threads
from .plots import (figure3_style, plot_figure3, plot_geometry, plot_pretraining,
                    plot_ridge_path, plot_robustness, plot_theory)
from .protocol import FAMILIES, NETWORKS, SYNTHETIC_FAMILIES, Protocol, SyntheticProtocol
from .results import (FamilySummary, Paired, RidgePath, Summary, SyntheticResult,
                      TransformerResult, paired, summarize)
from .separability import cover_probability, is_separable, separability_threshold

__all__ = [
    "features", "geometry", "heads", "hmm", "network", "plots", "separability",
    "FAMILIES", "NETWORKS", "SYNTHETIC_FAMILIES", "Protocol", "SyntheticProtocol",
    "DiscreteHMM", "random_sparse_hmm",
    "CausalTransformer", "extract_features", "lm_loss", "pretrain", "threads",
    "HeadScores", "SoftmaxFit", "fit_heads", "fit_softmax_head", "head_design",
    "min_norm_squared_head", "softmax_metrics", "softmax_objective", "squared_loss",
    "early_stopped_head", "effective_rank", "participation_ratio", "probe_r2", "tail_share",
    "cover_probability", "is_separable", "separability_threshold",
    "FrozenFeatures", "family_features", "feature_theory", "frozen_features", "reference_losses",
    "ridge_path", "run", "run_synthetic", "summarize", "paired", "Paired",
    "FamilySummary", "RidgePath", "Summary", "SyntheticResult", "TransformerResult",
    "figure3_style", "plot_figure3", "plot_pretraining", "plot_ridge_path", "plot_theory",
    "plot_robustness", "plot_geometry",
]
