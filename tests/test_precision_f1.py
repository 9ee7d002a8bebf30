"""bfloat16 + channels-last (what ``train.precision=auto`` means on a CPU with native
bfloat16) leaves the detector's F1 where float32 puts it, within seed noise, on digits for
CE, Blurry Loss and Piecewise-Zero over five seeds."""

from __future__ import annotations

import numpy as np
import pytest

from robustloss.experiment import ExperimentSettings, run_experiment

SEEDS = range(5)


def f1_over_seeds(loss: dict, precision: str) -> np.ndarray:
    scores = []
    for seed in SEEDS:
        settings = ExperimentSettings.from_dict({
            "dataset": {"name": "digits"}, "loss": loss, "model": {"name": "small_cnn"},
            "detector": {"name": "confident_learning"},
            "noise": {"rate": 0.2}, "seed": seed,
            "train": {"lr": 3e-3, "inputs": "unit", "precision": precision, "stack": "stacked"}})
        record, _ = run_experiment(settings, progress=False)
        scores.append(record["metrics"]["f1"])
    return np.array(scores)


@pytest.mark.parametrize("loss", [{"name": "ce"}, {"name": "blurry", "gamma": 0.4},
                                  {"name": "piecewise_zero", "c": 0.05}],
                         ids=lambda c: c["name"])
def test_bf16_f1_equals_fp32_f1_within_seed_noise(loss):
    fp32, bf16 = f1_over_seeds(loss, "fp32"), f1_over_seeds(loss, "bf16")
    # The two means may differ by two standard errors of their difference (the seeds are
    # paired: same noise, folds and initialisation), with a floor of 0.005 F1 for losses
    # whose F1 hardly moves between seeds.
    diff = bf16 - fp32
    allowed = max(2 * diff.std(ddof=1) / np.sqrt(len(diff)), 0.005)
    assert abs(diff.mean()) <= allowed, (fp32.round(4), bf16.round(4))
    # and bf16 trained: it is not a flat run that happens to match a bad fp32 one
    assert bf16.mean() > 0.85, bf16
