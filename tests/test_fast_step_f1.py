"""The small CNN's fast step leaves the detector's F1 where the textbook step puts it, within
seed noise, on digits over five seeds (CE and Blurry Loss, folds sequential so the CPU path
with byte-drawn dropout masks runs; this machine's auto precision). The textbook network
(ReLU -> max-pool -> torch's dropout -> (C, H, W) flatten) is registered for the test only.
Slow (~2-4 min): ``make test-slow``."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SEEDS = range(5)
LOSSES = {"ce": {"name": "ce"}, "blurry": {"name": "blurry", "gamma": 0.4}}
NETWORKS = ("small_cnn", "textbook_small_cnn")


def f1_of(loss: str, network: str, seed: int) -> float:
    import torch

    from robustloss.cli.bench_floor import textbook_small_cnn
    from robustloss.components.models import MODELS
    from robustloss.experiments.experiment import ExperimentSettings, run_experiment

    torch.set_num_threads(1)
    if "textbook_small_cnn" not in MODELS:
        MODELS.register("textbook_small_cnn")(textbook_small_cnn)
    settings = ExperimentSettings.from_dict({
        "dataset": {"name": "digits"}, "loss": LOSSES[loss], "model": {"name": network},
        "detector": {"name": "confident_learning"}, "noise": {"rate": 0.2}, "seed": seed,
        "train": {"lr": 3e-3, "inputs": "unit", "stack": "sequential"}})
    record, _ = run_experiment(settings, progress=False)
    return record["metrics"]["f1"]


@pytest.fixture(scope="module")
def f1_scores() -> dict:
    jobs = [(loss, net, seed) for loss in LOSSES for net in NETWORKS for seed in SEEDS]
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        scores = list(pool.map(f1_of, *zip(*jobs, strict=True)))
    table = {}
    for (loss, net, _), score in zip(jobs, scores, strict=True):
        table.setdefault((loss, net), []).append(score)
    return {key: np.array(values) for key, values in table.items()}


@pytest.mark.parametrize("loss", list(LOSSES))
def test_fast_step_f1_equals_the_textbook_step_within_seed_noise(f1_scores, loss):
    fast, textbook = f1_scores[(loss, "small_cnn")], f1_scores[(loss, "textbook_small_cnn")]
    # the precision test's criterion: two standard errors of the paired difference, floor 0.005
    diff = fast - textbook
    allowed = max(2 * diff.std(ddof=1) / np.sqrt(len(diff)), 0.005)
    assert abs(diff.mean()) <= allowed, (textbook.round(4), fast.round(4))
    assert fast.mean() > 0.85, fast
