"""Area Under the Margin (Pleiss et al. 2020): label errors from the training dynamics of
runs on the data itself, with planted "threshold samples" as the yardstick.

Per run r (``runs`` of them, default 2): a slice of one seeded permutation, N // K samples
(the reference runner asappresearch/aum examples/paper_replication; the paper writes
N / (K + 1)), is relabelled to a fake class K and the model gets K + 1 outputs. The margin
of a sample in an epoch is its assigned label's logit minus the largest other logit, from
the training forward pass; AUM is the mean margin from the second epoch on. A sample is
flagged in run r when its AUM lies below the ``percentile``-th percentile of the threshold
samples' AUM; it is flagged overall when flagged in every run where it was judged (not a
threshold sample). The threshold slices are disjoint, so every sample is judged at least once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from robustloss.components.losses import LossSchedule
from robustloss.detection.detect import DETECTORS
from robustloss.errors import check_integer
from robustloss.training.crossval import fit_and_predict, progress_bar
from robustloss.training.dynamics import DynamicsRecorder, check_level, stack_runs
from robustloss.training.plan import TrainingPlan


@DETECTORS.register("aum")
@dataclass(frozen=True)
class AUMSettings:
    """percentile: of the threshold samples' AUM, in (0, 100) (Pleiss et al.: 99).
    runs: training runs with disjoint threshold sets (>= 2, so every sample is judged).
    threshold_size: threshold samples per run; None = N // K. first_epoch: 0-based epoch from
    which margins are averaged (1 = from the second epoch on). holdout: samples set aside
    (never trained on, never judged), as the reference runner's 5,000-image validation split.
    """

    percentile: float = 99.0
    runs: int = 2
    threshold_size: int | None = None
    first_epoch: int = 1
    holdout: int = 0
    evidence: ClassVar[str] = "training_runs"

    def __post_init__(self):
        if isinstance(self.percentile, bool) or not isinstance(self.percentile, int | float) \
                or not 0 < self.percentile < 100:
            raise ValueError(f"detector.percentile must be in (0, 100), got {self.percentile!r}")
        object.__setattr__(self, "percentile", float(self.percentile))
        for name, low in (("runs", 2), ("first_epoch", 0), ("holdout", 0)):
            check_integer(f"detector.{name}", getattr(self, name), low)
        if self.threshold_size is not None and (not isinstance(self.threshold_size, int)
                                                or self.threshold_size < 1):
            raise ValueError(f"detector.threshold_size must be null or an integer >= 1, "
                             f"got {self.threshold_size!r}")

    def check(self, num_samples: int, num_classes: int, epochs: int) -> int:
        """The threshold set size for this data; ValueError when the plan cannot work."""
        size = self.threshold_size or num_samples // num_classes
        trained = num_samples - self.holdout
        if self.runs * size > trained:
            raise ValueError(f"detector: {self.runs} runs x {size} threshold samples exceed the "
                             f"{trained} training samples (dataset {num_samples}, holdout "
                             f"{self.holdout}); lower detector.threshold_size or runs")
        if size < 1:
            raise ValueError(f"detector: no threshold samples ({num_samples} samples, "
                             f"{num_classes} classes)")
        if self.first_epoch >= epochs:
            raise ValueError(f"detector.first_epoch {self.first_epoch} leaves no epoch to average "
                             f"over (train.epochs = {epochs})")
        return size


def plan_runs(num_samples: int, size: int, runs: int, holdout: int, seed: int
              ) -> tuple[list[np.ndarray], np.ndarray]:
    """(threshold index sets, one per run; training mask (N,)) from one seeded permutation:
    the first ``holdout`` entries are held out, then consecutive slices of ``size``."""
    order = np.random.default_rng(seed).permutation(num_samples)
    trained = np.ones(num_samples, dtype=bool)
    trained[order[:holdout]] = False
    rest = order[holdout:]
    return [np.sort(rest[r * size:(r + 1) * size]) for r in range(runs)], trained


@dataclass
class AUMEvidence:
    """aum: (runs, N) float64, each sample's AUM under its assigned label in each run (NaN
    where not trained); threshold: (runs, N) bool; trained: (N,) bool; dynamics: the
    recorded arrays (dynamics_p_y, dynamics_margin: (R, N, epochs) float16) if asked."""

    aum: np.ndarray
    threshold: np.ndarray
    trained: np.ndarray
    runs: list[dict]
    dynamics: dict[str, np.ndarray] = field(default_factory=dict)


def train_runs(
    images: torch.Tensor, labels: np.ndarray, num_classes: int,
    make_model: Callable[[int], nn.Module], schedule: LossSchedule, plan: TrainingPlan,
    settings: AUMSettings, seed: int, progress: bool = True,
    dynamics: str = "none",
) -> AUMEvidence:
    """Train ``settings.runs`` models with K + 1 outputs (``make_model(K + 1)``) on uint8
    ``images`` (N, C, H, W) with int ``labels`` (N,), threshold samples relabelled to K."""
    check_level(dynamics)
    train, device = plan.settings, plan.device
    n = len(labels)
    size = settings.check(n, num_classes, train.epochs)
    thresholds, trained = plan_runs(n, size, settings.runs, settings.holdout, seed)
    train_idx = torch.from_numpy(np.flatnonzero(trained)).to(device)
    x = images.to(device)[train_idx]
    aum = np.full((settings.runs, n), np.nan)
    is_threshold = np.zeros((settings.runs, n), dtype=bool)
    stats, kept = [], []
    with progress_bar(settings.runs * train.epochs, progress) as bar:
        for r, chosen in enumerate(thresholds):
            assigned = np.asarray(labels, dtype=np.int64).copy()
            assigned[chosen] = num_classes
            is_threshold[r, chosen] = True
            recorder = DynamicsRecorder(train_idx, n, train.epochs)
            y = torch.as_tensor(assigned, device=device)[train_idx]
            _, run_stats, _ = fit_and_predict(
                lambda: make_model(num_classes + 1), x, y, x[:0], schedule, plan,
                seed * 1000 + 100 + r, bar, r, on_batch=recorder.hook)
            aum[r] = recorder.aum(settings.first_epoch)
            stats.append({**run_stats, "n_threshold": int(len(chosen))})
            if dynamics == "all" or (dynamics == "first_fold" and r == 0):
                kept.append(recorder)
    return AUMEvidence(aum, is_threshold, trained, stats, stack_runs(kept))


def flag(evidence: AUMEvidence, percentile: float) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(flagged (N,) bool, AUM (N,) averaged over the runs where each sample was judged,
    per-run threshold values). Samples never trained on are not flagged and have NaN AUM."""
    judged = ~evidence.threshold & evidence.trained
    values = [float(np.percentile(evidence.aum[r][evidence.threshold[r]], percentile))
              for r in range(len(evidence.aum))]
    below = evidence.aum < np.asarray(values)[:, None]
    flagged = np.all(below | ~judged, axis=0) & evidence.trained
    with np.errstate(invalid="ignore"):
        counts = judged.sum(axis=0)
        aum = np.where(judged, evidence.aum, 0.0).sum(axis=0) / np.where(counts, counts, np.nan)
    return flagged, aum, values
