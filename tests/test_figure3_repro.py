"""Reproducibility of Figure 3's data without executing its chapter twice.

``make test`` executes ``chapters/transformer.ipynb`` once, in the book build
(``conftest.EXECUTED_ONCE``); nbmake does not run it a second time.  Here a
reduced protocol (same code path, tiny sizes) runs in this process and again
on 2 spawned worker processes, as the chapter does, and every array of the
result must be bit-identical (``test_transformer_experiment.py`` runs it twice
serially).
"""


import numpy as np

import hmmrisk.transformer as f3

REDUCED = dict(n_states=4, n_tokens=6, n_successors=2, n_emissions=2, length=8, widths=(2, 8),
               steps=10, batch_size=8, warmup=2, n_lm_test=40, n_train=12, n_draws=2,
               n_test=40, n_val=20, ridges=(1e-2, 1e-6), gd_steps=50, sep_draws=2, seeds=(0, 1))


def test_reduced_figure3_protocol_is_reproducible_across_processes():
    serial = f3.run(f3.Protocol(**REDUCED, n_workers=1))
    parallel = f3.run(f3.Protocol(**REDUCED, n_workers=2))
    differ = [key for key, arr in serial.arrays().items()
              if not key.endswith("seconds") and not np.array_equal(arr, getattr(parallel, key))]
    assert not differ, f"Figure 3's data differ between one process and two: {differ}"


def test_theory_panel_is_reproducible_across_processes():
    """The theory panel's jobs (one per n and family) give the same arrays on 1 or 2 workers."""
    sp = f3.SyntheticProtocol(ns=(10, 16), ratios=(0.1, 0.5, 1.0, 3.0), n_draws=2, n_test=40,
                              protocol=f3.Protocol(**REDUCED))
    serial, parallel = f3.run_synthetic(sp, n_workers=1), f3.run_synthetic(sp, n_workers=2)
    differ = [key for key, arr in serial.arrays().items()
              if not key.endswith("seconds") and not np.array_equal(arr, getattr(parallel, key))]
    assert not differ, f"the theory panel's data differ between one process and two: {differ}"
