"""K-fold cross-validation -> out-of-fold predicted probabilities for every sample."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold
from torch import nn
from tqdm.auto import tqdm

from robustloss.losses import LossSchedule
from robustloss.train import TrainSettings, fit, predict_proba


def check_folds(labels: np.ndarray, folds: int) -> None:
    """Stratified K-fold needs every class to have at least K samples."""
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    classes, counts = np.unique(labels, return_counts=True)
    small = {int(c): int(n) for c, n in zip(classes, counts, strict=True) if n < folds}
    if small:
        raise ValueError(
            f"{folds}-fold cross-validation needs at least {folds} samples per class; "
            f"classes with fewer (class: count): {small}"
        )


def fold_assignment(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """fold index (N,) in [0, folds): stratified on the given labels, shuffled with ``seed``."""
    check_folds(labels, folds)
    fold_of = np.empty(len(labels), dtype=np.int64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        fold_of[held_out] = k
    return fold_of


@dataclass
class CrossValResult:
    """probabilities: (N, K) out-of-fold softmax; fold_of: (N,) fold that held each sample
    out; folds: per-fold statistics (sizes, seconds, samples/s, final training loss)."""

    probabilities: np.ndarray
    fold_of: np.ndarray
    folds: list[dict]


def cross_validate(
    images: torch.Tensor,
    labels: np.ndarray,
    num_classes: int,
    make_model: Callable[[], nn.Module],
    schedule: LossSchedule,
    settings: TrainSettings,
    folds: int = 5,
    seed: int = 0,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> CrossValResult:
    """Train a fresh model per fold on the other folds and predict the held-out one.

    images: uint8 (N, C, H, W); labels: int (N,) labels to train on (the noisy ones).
    Every sample is predicted exactly once, by the model that never saw it.
    """
    device = torch.device(device)
    fold_of = fold_assignment(labels, folds, seed)
    x = images.to(device)
    y = torch.as_tensor(labels, dtype=torch.int64, device=device)
    probs = np.full((len(labels), num_classes), np.nan, dtype=np.float32)
    stats = []
    bar = tqdm(total=folds * settings.epochs, desc="train", disable=None if progress else True,
               leave=False)
    for k in range(folds):
        train_idx = torch.from_numpy(np.flatnonzero(fold_of != k)).to(device)
        held_idx = np.flatnonzero(fold_of == k)
        torch.manual_seed(seed * 1000 + k)
        model = make_model().to(device)
        generator = torch.Generator().manual_seed(seed * 1000 + k)
        losses: list[float] = []

        def on_epoch_end(epoch, mean_loss, k=k, losses=losses):
            losses.append(mean_loss)
            bar.set_postfix(fold=k, loss=f"{mean_loss:.4f}")
            bar.update()

        start = time.perf_counter()
        transform = fit(model, x[train_idx], y[train_idx], schedule, settings, generator, on_epoch_end)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        held = torch.from_numpy(held_idx).to(device)
        probs[held_idx] = predict_proba(model, transform, x[held], amp=settings.amp).cpu().numpy()
        stats.append({
            "fold": k, "n_train": int(len(train_idx)), "n_held_out": int(len(held_idx)),
            "train_seconds": seconds,
            "samples_per_second": len(train_idx) * settings.epochs / seconds,
            "epoch_losses": losses,
        })
    bar.close()
    return CrossValResult(probs, fold_of, stats)
