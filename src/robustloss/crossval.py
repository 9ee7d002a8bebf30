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


def fit_and_predict(
    make_model: Callable[[], nn.Module],
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    predict_images: torch.Tensor,
    schedule: LossSchedule,
    settings: TrainSettings,
    seed: int,
    bar: tqdm | None = None,
    fold: int = 0,
) -> tuple[torch.Tensor, dict]:
    """Train a fresh model (seeded with ``seed``) on uint8 ``train_images`` (n, C, H, W) and
    int64 ``train_labels`` (n,), both on the training device; return its softmax
    probabilities (m, K) for ``predict_images`` and the run's statistics."""
    device = train_images.device
    torch.manual_seed(seed)
    model = make_model().to(device)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []

    def on_epoch_end(epoch, mean_loss):
        losses.append(mean_loss)
        if bar is not None:
            bar.set_postfix(fold=fold, loss=f"{mean_loss:.4f}")
            bar.update()

    start = time.perf_counter()
    transform = fit(model, train_images, train_labels, schedule, settings, generator, on_epoch_end)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    probs = predict_proba(model, transform, predict_images)
    return probs, {
        "fold": fold, "n_train": len(train_labels), "n_held_out": len(predict_images),
        "train_seconds": seconds,
        "samples_per_second": len(train_labels) * settings.epochs / seconds,
        "epoch_losses": losses,
    }


def progress_bar(total: int, progress: bool) -> tqdm:
    """A bar over epochs, silent when ``progress`` is false or output is not a terminal."""
    return tqdm(total=total, desc="train", disable=None if progress else True, leave=False)


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
    with progress_bar(folds * settings.epochs, progress) as bar:
        for k in range(folds):
            train_idx = torch.from_numpy(np.flatnonzero(fold_of != k)).to(device)
            held_idx = np.flatnonzero(fold_of == k)
            held = torch.from_numpy(held_idx).to(device)
            fold_probs, fold_stats = fit_and_predict(
                make_model, x[train_idx], y[train_idx], x[held], schedule, settings,
                seed * 1000 + k, bar, k)
            probs[held_idx] = fold_probs.cpu().numpy()
            stats.append(fold_stats)
    return CrossValResult(probs, fold_of, stats)
