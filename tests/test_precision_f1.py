"""bfloat16 (what ``train.precision=auto`` means on a CPU with native bfloat16) leaves the
detector's F1 where float32 puts it, within seed noise, on digits over five seeds: CE,
Blurry Loss and Piecewise-Zero with stacked folds (digits' setting: vmapped, no
channels-last), and CE with sequential folds, the path MNIST takes on a CPU (bf16 +
channels-last). Slow (~3-6 min; bfloat16 is emulated and slower on CPUs without
AVX512-BF16): ``make test-slow``."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from robustloss.experiments.experiment import ExperimentSettings, run_experiment

pytestmark = pytest.mark.slow

SEEDS = range(5)
# case -> (loss, how the folds train)
LOSSES = {"ce": ({"name": "ce"}, "stacked"),
          "blurry": ({"name": "blurry", "gamma": 0.4}, "stacked"),
          "piecewise_zero": ({"name": "piecewise_zero", "c": 0.05}, "stacked"),
          "ce sequential": ({"name": "ce"}, "sequential")}
PRECISIONS = ("fp32", "bf16")


def f1_of(case: str, precision: str, seed: int) -> tuple[float, dict]:
    loss, stack = LOSSES[case]
    settings = ExperimentSettings.from_dict({
        "dataset": {"name": "digits"}, "loss": loss, "model": {"name": "small_cnn"},
        "detector": {"name": "confident_learning"}, "noise": {"rate": 0.2}, "seed": seed,
        "train": {"lr": 3e-3, "inputs": "unit", "precision": precision, "stack": stack}})
    record, _ = run_experiment(settings, progress=False)
    return record["metrics"]["f1"], record["arithmetic"]


def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def f1_scores() -> dict:
    """(case, precision) -> F1 per seed; the 40 experiments spread over the CPU's cores,
    one thread each (the numbers do not depend on how they are scheduled)."""
    jobs = [(loss, precision, seed) for loss in LOSSES for precision in PRECISIONS for seed in SEEDS]
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=one_thread) as pool:
        scores = list(pool.map(f1_of, *zip(*jobs, strict=True)))
    table, arithmetic = {}, {}
    for (loss, precision, _), (score, ran) in zip(jobs, scores, strict=True):
        table.setdefault((loss, precision), []).append(score)
        arithmetic[(loss, precision)] = ran
    return {"f1": {key: np.array(values) for key, values in table.items()},
            "arithmetic": arithmetic}


def test_the_sequential_bf16_case_takes_the_channels_last_path(f1_scores):
    assert f1_scores["arithmetic"][("ce sequential", "bf16")] == {
        "precision": "bf16", "channels_last": True, "folds_stacked": False}
    assert f1_scores["arithmetic"][("ce", "bf16")]["folds_stacked"] is True


@pytest.mark.parametrize("loss", list(LOSSES))
def test_bf16_f1_equals_fp32_f1_within_seed_noise(f1_scores, loss):
    fp32, bf16 = f1_scores["f1"][(loss, "fp32")], f1_scores["f1"][(loss, "bf16")]
    # The two means may differ by two standard errors of their difference (the seeds are
    # paired: same noise, folds and initialisation), with a floor of 0.005 F1 for losses
    # whose F1 hardly moves between seeds.
    diff = bf16 - fp32
    allowed = max(2 * diff.std(ddof=1) / np.sqrt(len(diff)), 0.005)
    assert abs(diff.mean()) <= allowed, (fp32.round(4), bf16.round(4))
    # and bf16 trained: it is not a flat run that happens to match a bad fp32 one
    assert bf16.mean() > 0.85, bf16
