"""K-fold cross-validation -> out-of-fold predicted probabilities for every sample."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import KFold, StratifiedKFold
from torch import nn
from tqdm import tqdm

from robustloss.components.losses import LossSchedule
from robustloss.errors import check_choice
from robustloss.training.finished_folds import FinishedFolds
from robustloss.training.loop import fit, predict_proba
from robustloss.training.plan import TrainingPlan
from robustloss.training.stacked import fit_stacked
from robustloss.training.train_settings import BatchHook

SPLITS = {
    "stratified": "StratifiedKFold on the given labels (paper section 5: 80% train / 20% predict)",
    "kfold": "plain KFold, not stratified (the authors' code: KFold(5, shuffle=True, random_state=123))",
}


@dataclass(frozen=True)
class CrossValSettings:
    """How the folds are cut and trained.

    split: one of SPLITS. split_seed: the shuffling seed of the split; None = the
    experiment's seed (a new split per trial), the authors' code fixes 123.
    carry_model: False (paper) trains a fresh model per fold; True continues training one
    model from fold to fold as the authors' code does (a fresh optimiser per fold), so from
    the second fold on the model has trained on the samples it predicts.
    """

    split: str = "stratified"
    split_seed: int | None = None
    carry_model: bool = False

    def __post_init__(self):
        check_choice("cv.split", self.split, SPLITS)
        if self.split_seed is not None and (isinstance(self.split_seed, bool)
                                            or not isinstance(self.split_seed, int)
                                            or self.split_seed < 0):
            raise ValueError(f"cv.split_seed must be null or an integer >= 0, got {self.split_seed!r}")
        if not isinstance(self.carry_model, bool):
            raise ValueError(f"cv.carry_model must be true or false, got {self.carry_model!r}")


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


def fold_assignment(labels: np.ndarray, folds: int, seed: int, split: str = "stratified") -> np.ndarray:
    """fold index (N,) in [0, folds), shuffled with ``seed``; ``split`` one of SPLITS."""
    check_folds(labels, folds)
    fold_of = np.empty(len(labels), dtype=np.int64)
    check_choice("cv.split", split, SPLITS)
    kind = StratifiedKFold if split == "stratified" else KFold
    splitter = kind(n_splits=folds, shuffle=True, random_state=seed)
    for k, (_, held_out) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        fold_of[held_out] = k
    return fold_of


@dataclass
class CrossValResult:
    """probabilities: (N, K) out-of-fold softmax; fold_of: (N,) fold that held each sample
    out; folds: per-fold statistics (sizes, seconds, samples/s, final training loss); plan:
    the training plan that ran (with its stacking decision)."""

    probabilities: np.ndarray
    fold_of: np.ndarray
    folds: list[dict]
    plan: TrainingPlan


def fit_and_predict(
    make_model: Callable[[], nn.Module],
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    predict_images: torch.Tensor,
    schedule: LossSchedule,
    plan: TrainingPlan,
    seed: int,
    bar: tqdm | None = None,
    fold: int = 0,
    model: nn.Module | None = None,
    on_batch: BatchHook | None = None,
) -> tuple[torch.Tensor, dict, nn.Module]:
    """Train a model on uint8 ``train_images`` (n, C, H, W) and int64 ``train_labels`` (n,),
    both on the plan's device; return its softmax probabilities (m, K) for
    ``predict_images``, the run's statistics and the trained model. ``model``: continue
    training this one instead of a fresh one built by ``make_model`` (seeded with ``seed``,
    which also seeds batch order and augmentation). ``on_batch``: see train.BatchHook."""
    device = plan.device
    torch.manual_seed(seed)
    if model is None:
        model = make_model().to(device)
    generator = torch.Generator().manual_seed(seed)
    losses: list[float] = []

    def on_epoch_end(epoch, mean_loss):
        losses.append(mean_loss)
        if bar is not None:
            bar.set_postfix(fold=fold, loss=f"{mean_loss:.4f}")
            bar.update()

    start = time.perf_counter()
    transform = fit(model, train_images, train_labels, schedule, plan, generator, on_epoch_end,
                    on_batch)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    probs = predict_proba(model, transform, predict_images)
    return probs, {
        "fold": fold, "n_train": len(train_labels), "n_held_out": len(predict_images),
        "train_seconds": seconds,
        "samples_per_second": len(train_labels) * plan.settings.epochs / seconds,
        "epoch_losses": losses,
    }, model


def progress_bar(total: int, progress: bool) -> tqdm:
    """A bar over epochs, silent when ``progress`` is false or output is not a terminal."""
    return tqdm(total=total, desc="train", disable=None if progress else True, leave=False)


def cross_validate(
    images: torch.Tensor,
    labels: np.ndarray,
    num_classes: int,
    make_model: Callable[[], nn.Module],
    schedule: LossSchedule,
    plan: TrainingPlan,
    folds: int = 5,
    seed: int = 0,
    progress: bool = True,
    cv: CrossValSettings = CrossValSettings(),
    on_fold_trained: Callable[[int, nn.Module], None] | None = None,
    batch_hook: Callable[[int, torch.Tensor], BatchHook | None] | None = None,
    finished: FinishedFolds | None = None,
) -> CrossValResult:
    """Train a model per fold on the other folds and predict the held-out one.

    images: uint8 (N, C, H, W); labels: int (N,) labels to train on (the noisy ones).
    Every sample is predicted exactly once, by the fold's model; with ``cv.carry_model``
    that model has continued from the previous fold's (the authors' code), otherwise it is
    fresh and never saw the sample. Fold k's model and batch order are seeded with
    ``seed * 1000 + k``; ``plan.for_folds`` decides, once, whether the folds train one after
    another or stacked (robustloss.training.stacked: same maths, one vectorised step for all);
    the result carries the plan that ran.
    ``on_fold_trained(k, model)`` is called after fold k trains; ``batch_hook(k,
    train_idx)`` may return a BatchHook for fold k, given the dataset indices (n_k,) of the
    fold's training samples.
    ``finished``: where each fold trained one after another is kept when done and taken
    from when an earlier, killed run left it (not for stacked folds, a carried model, or a
    fold whose model a hook watches).
    """
    device = plan.device
    split_seed = seed if cv.split_seed is None else cv.split_seed
    fold_of = fold_assignment(labels, folds, split_seed, cv.split)
    x = images.to(device)
    y = torch.as_tensor(labels, dtype=torch.int64, device=device)
    train_idx = [torch.from_numpy(np.flatnonzero(fold_of != k)).to(device) for k in range(folds)]
    hooks = [batch_hook(k, idx) if batch_hook is not None else None
             for k, idx in enumerate(train_idx)]
    probs = np.full((len(labels), num_classes), np.nan, dtype=np.float32)
    stats = []
    plan = plan.for_folds(make_model, [len(idx) for idx in train_idx], cv.carry_model)
    with progress_bar(folds * plan.settings.epochs, progress) as bar:
        models = (_train_stacked(make_model, x, y, train_idx, schedule, plan, seed, bar, hooks)
                  if plan.stacked else None)
        model = None
        for k in range(folds):
            held_idx = np.flatnonzero(fold_of == k)
            held = torch.from_numpy(held_idx).to(device)
            keep = (finished is not None and models is None and not cv.carry_model
                    and hooks[k] is None and on_fold_trained is None)
            earlier = finished.load(k, held_idx, num_classes) if keep else None
            if earlier is not None:
                probs[held_idx], fold_stats = earlier
                bar.update(plan.settings.epochs)
                stats.append(fold_stats)
                continue
            started = time.perf_counter()
            if models is not None:
                trained, transform, fold_stats = models[k]
                fold_probs = predict_proba(trained, transform, x[held])
                fold_stats["n_held_out"] = len(held_idx)
            else:
                fold_probs, fold_stats, trained = fit_and_predict(
                    make_model, x[train_idx[k]], y[train_idx[k]], x[held], schedule, plan,
                    seed * 1000 + k, bar, k, model if cv.carry_model else None, hooks[k])
            fold_stats["stacked"] = models is not None
            model = trained
            if on_fold_trained is not None:
                on_fold_trained(k, trained)
            probs[held_idx] = fold_probs.cpu().numpy()
            if keep:
                finished.save(k, probs[held_idx], held_idx, fold_stats, time.perf_counter() - started)
            stats.append(fold_stats)
    return CrossValResult(probs, fold_of, stats, plan)


def _train_stacked(make_model, x, y, train_idx, schedule, plan, seed, bar, hooks):
    """All folds' models trained together -> [(model, input transform, stats)] per fold.
    Each model is built and ordered exactly as fit_and_predict would (seed * 1000 + k)."""
    device = x.device
    models, generators = [], []
    for k in range(len(train_idx)):
        torch.manual_seed(seed * 1000 + k)
        models.append(make_model().to(device))
        generators.append(torch.Generator().manual_seed(seed * 1000 + k))
    losses: list[list[float]] = []

    def on_epoch_end(epoch, mean_losses):
        losses.append(mean_losses)
        bar.set_postfix(folds="all", loss=f"{np.mean(mean_losses):.4f}")
        bar.update(len(train_idx))

    start = time.perf_counter()
    transforms = fit_stacked(models, x, y, train_idx, schedule, plan, generators,
                             on_epoch_end, hooks)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = (time.perf_counter() - start) / len(train_idx)  # shared equally
    return [(model, transform, {
        "fold": k, "n_train": len(train_idx[k]), "train_seconds": seconds,
        "samples_per_second": len(train_idx[k]) * plan.settings.epochs / seconds,
        "epoch_losses": [epoch[k] for epoch in losses]})
        for k, (model, transform) in enumerate(zip(models, transforms, strict=True))]
