"""Reproducibility of Figure 3's data without executing its chapter twice.

``make test`` executes ``chapters/transformer.ipynb`` once, in the book build
(``conftest.EXECUTED_ONCE``); nbmake does not run it a second time.  Here a
reduced protocol (same code path, tiny sizes) runs in this process and again
on 2 spawned worker processes, as the chapter does, and the arrays behind the
figures must be bit-identical (compared by their ``figure_data`` digests).
"""

import numpy as np

import hmmrisk.figure3 as f3
from hmmrisk import figure_data

REDUCED = dict(n_states=4, n_tokens=6, n_successors=2, n_emissions=2, length=8, widths=(2, 8),
               steps=10, batch_size=8, warmup=2, n_lm_test=40, n_train=12, n_draws=2,
               n_test=40, ridges=(1e-2, 1e-6))
KEYS = ("test_ce", "marginal_head_loss", "bayes_head_loss", "pretrain_loss", "lm_test_loss",
        "sq_test_loss", "eff_rank", "train_acc", "bias_only_test_ce")   # what the chapter plots


def test_reduced_figure3_protocol_is_reproducible_across_processes():
    pr = f3.Protocol(**REDUCED, n_workers=1)
    serial = f3.run(pr, seeds=(0, 1), n_workers=1)
    parallel = f3.run(pr, seeds=(0, 1), n_workers=2)
    first = figure_data.digest(**{k: serial[k] for k in KEYS})
    second = figure_data.digest(**{k: parallel[k] for k in KEYS})
    differ = [k for k in KEYS if not np.array_equal(serial[k], parallel[k])]
    assert first == second, f"Figure 3's data differ between two runs: {differ}"
