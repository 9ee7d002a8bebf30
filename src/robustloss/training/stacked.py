"""Train several independent models as one: the K folds of an experiment, stacked.

The models' parameters are stacked along a new leading dimension
(``torch.func.stack_module_state``) and one network definition is evaluated for all of them
at once with ``torch.func.vmap`` over ``functional_call``. Each model keeps everything that
makes it itself: its initialisation, its training samples, its batch order (its own
generator, as when trained alone), its input scaling. One optimiser steps all of them:
Adam and SGD act element by element, so one optimiser over the stacked tensors equals one
per model, and the summed loss gives each model exactly its own gradient.

Batches of different models may differ in size (folds differ by a sample or so); each
step's batches are padded to the largest and the padding carries zero weight. Where the
models would take a different number of steps in an epoch, stacking is refused (the caller
trains them one after another).

Not stackable: BatchNorm networks (vmap cannot update per-model running statistics in
place), a model carried from fold to fold (the folds depend on each other). Dropout and
augmentation draw their random numbers differently from sequential training (vmap's
``randomness="different"``: each model its own masks), so with dropout on, stacked and
sequential runs are equally valid draws, not the same numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from robustloss.components.losses import LossSchedule
from robustloss.training.augment import augment_batch
from robustloss.training.loop import make_optimizer, step
from robustloss.training.plan import TrainingPlan, steps_agree
from robustloss.training.train_settings import BatchHook, InputTransform


def fit_stacked(
    models: Sequence[nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    train_indices: Sequence[torch.Tensor],
    schedule: LossSchedule,
    plan: TrainingPlan,
    generators: Sequence[torch.Generator],
    on_epoch_end: Callable[[int, list[float]], None] | None = None,
    on_batch: Sequence[BatchHook | None] | None = None,
) -> list[InputTransform]:
    """Train ``models`` (same architecture, on one device) together; model m on
    ``images[train_indices[m]]`` (uint8) with ``labels[train_indices[m]]``, in the batch
    order of ``generators[m]``. The trained weights are written back into ``models``.
    Returns each model's input transform. ``plan``: its precision and batches (its stacking
    decision is the caller's). ``on_epoch_end(epoch, mean_losses)``;
    ``on_batch[m]``: model m's BatchHook (sample indices relative to its training set)."""
    settings, precision, device = plan.settings, plan.precision, plan.device
    sizes = [len(idx) for idx in train_indices]
    if not steps_agree(sizes, settings.batch_size):
        raise ValueError(f"training sets of sizes {sizes} take different numbers of steps")
    transforms = [plan.input_transform(images[idx]) for idx in train_indices]
    params, buffers = stack_module_state(list(models))
    template = copy.deepcopy(models[0]).to("meta")
    optimizer = make_optimizer(list(params.values()), settings)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(settings.lr_milestones), gamma=settings.lr_gamma)
    scaler = precision.grad_scaler(device)

    def forward(p, b, x):
        return functional_call(template, (p, b), (x,))

    batched_forward = vmap(forward, randomness="different")
    hooks = list(on_batch) if on_batch is not None else [None] * len(models)
    for model in models:
        model.train()
    template.train()
    for epoch in range(settings.epochs):
        loss_fn = schedule.for_epoch(epoch)
        plans = [plan.epoch_batches(n, g) for n, g in zip(sizes, generators, strict=True)]
        totals = torch.zeros(len(models), device=device)
        for batch in zip(*plans, strict=True):
            width = max(len(idx) for idx in batch)
            local = torch.stack([pad(idx, width) for idx in batch])           # (M, B)
            weight = torch.stack([(torch.arange(width, device=device) < len(idx)).float()
                                  for idx in batch])
            rows = torch.stack([train_indices[m][local[m]] for m in range(len(models))])
            x = torch.stack([augment_batch(transforms[m](images[rows[m]]), settings.augment)
                             for m in range(len(models))])
            y = labels[rows]
            with precision.autocast(device):
                logits = batched_forward(params, buffers, x)                  # (M, B, K)
            for m, hook in enumerate(hooks):
                if hook is not None:
                    with torch.no_grad():
                        n = len(batch[m])
                        hook(epoch, batch[m], logits[m, :n].detach().float(), y[m, :n])
            per_sample = loss_fn(logits.flatten(0, 1), y.flatten()).view_as(weight)
            per_model = (per_sample * weight).sum(1) / weight.sum(1)
            if loss_fn.l1_weight:  # each model's own L1 norm
                per_model = per_model + loss_fn.l1_weight * sum(
                    p.abs().flatten(1).sum(1) for p in params.values())
            loss = per_model.sum()
            step(loss, optimizer, scaler)
            totals += per_model.detach() * weight.sum(1)
        scheduler.step()
        if on_epoch_end is not None:
            on_epoch_end(epoch, (totals.cpu() / torch.tensor(sizes)).tolist())
    with torch.no_grad():
        for m, model in enumerate(models):
            for name, param in model.named_parameters():
                param.copy_(params[name][m])
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name][m])
    return transforms


def pad(idx: torch.Tensor, width: int) -> torch.Tensor:
    """``idx`` extended to ``width`` by repeating its first entry (weighted zero)."""
    return torch.cat([idx, idx[:1].expand(width - len(idx))])
