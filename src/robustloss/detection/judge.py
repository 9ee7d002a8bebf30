"""From data, the labels to judge and a training plan to a judgement: which samples the
detector flags, with the evidence it used. The labels come noisy already (the experiment
corrupts them: robustloss.experiments.experiment.noisy_labels). Two kinds of evidence
(detect.EVIDENCE):

- out-of-fold probabilities (Confident Learning): K-fold cross-validation on the noisy
  training set, or the test-set protocol (train once, predict the test split);
- training runs (AUM): runs on the whole noisy training set with planted threshold samples.

Both may record training dynamics (p_y and margins per sample and epoch).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from robustloss.detection import aum as aum_detector
from robustloss.detection.detect import DETECTORS, detect, evidence_of
from robustloss.detection.metrics import accuracy, separation
from robustloss.records import NPZ_READ_ERRORS, atomic_write, record_id
from robustloss.training.crossval import cross_validate, fit_and_predict, progress_bar
from robustloss.training.dynamics import DynamicsRecorder, stack_runs
from robustloss.training.finished_folds import FinishedFolds
from robustloss.training.plan import TrainingPlan

log = logging.getLogger("robustloss")


@dataclass(frozen=True)
class NoisyLabels:
    """The labels a detector judges, one row per candidate (the training set, or the test
    split): noisy int (n,) the labels as given to training and detection; true int (n,) the
    clean labels; corrupted bool (n,) noisy != true."""

    noisy: np.ndarray
    true: np.ndarray
    corrupted: np.ndarray


@dataclass
class Judgement:
    """One row per judged candidate (the training set, or the test split).

    noisy / true: int (n,) given and clean labels; corrupted: bool (n,) noisy != true;
    flagged: bool (n,); judged: bool (n,) rows the detector could judge (all but AUM's
    holdout); runs: statistics per fold or run; plan: the training plan that ran; arrays:
    evidence for the .npz; metrics: evidence-specific numbers (held-out accuracy, AUM
    thresholds and separation).
    """

    noisy: np.ndarray
    true: np.ndarray
    corrupted: np.ndarray
    flagged: np.ndarray
    judged: np.ndarray
    runs: list[dict]
    plan: TrainingPlan
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def _test_set_probabilities(settings, data, make_model, schedule, plan, progress, cache_dir):
    """Train on the training set as given, predict the test set. Training does not depend on
    the noise rate or the detector, so the probabilities are cached under ``cache_dir`` and
    shared by every eta of a sweep."""
    key = {k: v for k, v in settings.identity().items() if k not in ("noise", "detector")}
    path = None if cache_dir is None else Path(cache_dir) / f"{record_id(key)}.npz"
    if path is not None and path.exists():
        try:
            with np.load(path) as cached:
                probs, stats = cached["probabilities"], json.loads(str(cached["stats"]))
            if probs.shape == (len(data.test_labels), data.num_classes) and np.isfinite(probs).all():
                return probs, stats
            log.warning("cached predictions %s do not fit this test set; recomputing them", path)
        except NPZ_READ_ERRORS as err:
            log.warning("cached predictions %s are damaged (%s); recomputing them", path,
                        type(err).__name__)
    device = plan.device
    with progress_bar(settings.train.epochs, progress) as bar:
        probs, stats, _ = fit_and_predict(
            make_model, data.images.to(device),
            torch.as_tensor(data.labels, dtype=torch.int64, device=device),
            data.test_images.to(device), schedule, plan, settings.seed * 1000, bar)
    probs = probs.cpu().numpy()
    if path is not None:
        atomic_write(path, lambda h: np.savez(h, probabilities=probs, stats=json.dumps(stats)))
    return probs, stats


def _by_probabilities(settings, data, labels, make_model, schedule, plan, progress, cache_dir,
                      finished):
    recorders: list[DynamicsRecorder] = []
    noisy, true, corrupted = labels.noisy, labels.true, labels.corrupted
    if settings.protocol == "test_set":  # labels: the test split's
        probs, stats = _test_set_probabilities(settings, data, make_model, schedule, plan,
                                               progress, cache_dir)
        fold_of, runs = np.zeros(len(noisy), dtype=np.int64), [stats]
    else:
        def batch_hook(k, train_idx):
            if settings.dynamics == "all" or (settings.dynamics == "first_fold" and k == 0):
                recorders.append(DynamicsRecorder(train_idx, len(noisy), settings.train.epochs))
                return recorders[-1].hook
            return None

        result = cross_validate(data.images, noisy, data.num_classes, make_model, schedule,
                                plan, settings.folds, settings.seed, progress, settings.cv,
                                batch_hook=batch_hook, finished=finished)
        probs, fold_of, runs = result.probabilities, result.fold_of, result.folds
        plan = result.plan
    flagged = detect(settings.detector.name, noisy, probs, **settings.detector.params)
    for run in runs:
        held = fold_of == run["fold"]
        run["accuracy_noisy"] = accuracy(probs[held], noisy[held])
        run["accuracy_true"] = accuracy(probs[held], true[held])
    metrics = {"accuracy_noisy": accuracy(probs, noisy), "accuracy_true": accuracy(probs, true)}
    arrays = {"probabilities": probs, "fold_of": fold_of, **stack_runs(recorders)}
    return Judgement(noisy, true, corrupted, flagged, np.ones(len(noisy), dtype=bool), runs,
                     plan, arrays, metrics)


def _by_training_runs(settings, data, labels, make_model, schedule, plan, progress):
    aum_settings = DETECTORS.create(settings.detector.name, settings.detector.params)
    noisy, corrupted = labels.noisy, labels.corrupted
    evidence = aum_detector.train_runs(
        data.images, noisy, data.num_classes, make_model, schedule, plan,
        aum_settings, settings.seed, progress, settings.dynamics)
    flagged, aum, thresholds = aum_detector.flag(evidence, aum_settings.percentile)
    judged = evidence.trained
    metrics = {"aum_thresholds": thresholds,
               **separation(aum[judged], corrupted[judged])}
    arrays = {"aum": aum, "aum_per_run": evidence.aum, "threshold_sample": evidence.threshold,
              **evidence.dynamics}
    return Judgement(noisy, labels.true, corrupted, flagged, judged, evidence.runs, plan,
                     arrays, metrics)


def judge(settings, data, labels: NoisyLabels, make_model: Callable[[int | None], nn.Module],
          schedule, plan: TrainingPlan, progress: bool = True,
          cache_dir: str | Path | None = None,
          finished: FinishedFolds | None = None) -> Judgement:
    """Train as the detector's evidence requires and ``plan`` says, then detect which of
    ``labels`` (the training set's, or the test split's under protocol test_set) are wrong.
    ``make_model(num_outputs)`` builds a fresh classifier (``None``: one output per class);
    ``finished``: where cross-validation keeps finished folds and resumes from them."""
    if evidence_of(settings.detector.name) == "training_runs":
        return _by_training_runs(settings, data, labels, make_model, schedule, plan, progress)
    return _by_probabilities(settings, data, labels, lambda: make_model(None), schedule, plan,
                             progress, cache_dir, finished)
