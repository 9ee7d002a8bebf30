"""Training throughput measurements of ``robustloss bench``: samples/s of the paper code's
loop, of this project's loop at a given precision (optionally recording dynamics), and of the
K folds stacked; each after a warm-up, on generated uint8 data."""

from __future__ import annotations

import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from robustloss.components import losses, models
from robustloss.training.dynamics import DynamicsRecorder
from robustloss.training.loop import fit
from robustloss.training.plan import TrainingPlan
from robustloss.training.precision import Precision
from robustloss.training.stacked import fit_stacked
from robustloss.training.train_settings import TrainSettings


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def baseline_rate(name, shape, classes, device, steps) -> float:
    """The paper code's loop: DataLoader(TensorDataset(float32)), .to(device) per batch."""
    torch.manual_seed(0)
    model = models.build(name, shape, classes).to(device)
    n = 64 * steps
    data = TensorDataset(torch.randint(0, 256, (n, *shape)).float(), torch.randint(0, classes, (n,)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = losses.BlurryLoss(0.4)
    model.train()

    def epoch(limit):
        for i, (x, y) in enumerate(DataLoader(data, batch_size=64, shuffle=True)):
            if i == limit:
                break
            x, y = x.to(device), y.to(device)
            loss = loss_fn(model(x), y).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    epoch(max(2, steps // 10))
    _sync(device)
    start = time.perf_counter()
    epoch(steps)
    _sync(device)
    return n / (time.perf_counter() - start)


def pipeline_rate(name, shape, classes, device, steps, precision: Precision,
                  dynamics: bool = False) -> float:
    torch.manual_seed(0)
    model = models.build(name, shape, classes).to(device)
    n = 64 * steps
    images = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, device=device)
    labels = torch.randint(0, classes, (n,), device=device)
    schedule = losses.LossSchedule(losses.build("blurry", classes, gamma=0.4))
    plan = TrainingPlan(TrainSettings(epochs=1), device, precision)
    warm = 64 * max(2, steps // 10)
    fit(model, images[:warm], labels[:warm], schedule, plan, torch.Generator().manual_seed(0))
    recorder = DynamicsRecorder(torch.arange(n, device=device), n, 1) if dynamics else None
    _sync(device)
    start = time.perf_counter()
    fit(model, images, labels, schedule, plan, torch.Generator().manual_seed(0),
        on_batch=recorder.hook if recorder else None)
    if recorder:
        recorder.to_numpy()  # the host transfer counts
    _sync(device)
    return n / (time.perf_counter() - start)


def stacked_rate(name, shape, classes, device, steps, precision: Precision, folds: int = 5) -> float:
    """Samples/s of ``folds`` models trained stacked, each on its own ``64 * steps`` samples."""
    torch.manual_seed(0)
    stack = [models.build(name, shape, classes).to(device) for _ in range(folds)]
    n = 64 * steps
    images = torch.randint(0, 256, (folds * n, *shape), dtype=torch.uint8, device=device)
    labels = torch.randint(0, classes, (folds * n,), device=device)
    schedule = losses.LossSchedule(losses.build("blurry", classes, gamma=0.4))
    plan = TrainingPlan(TrainSettings(epochs=1), device, precision, stacked=True)

    def run(size):
        indices = [torch.arange(k * n, k * n + size, device=device) for k in range(folds)]
        generators = [torch.Generator().manual_seed(k) for k in range(folds)]
        fit_stacked(stack, images, labels, indices, schedule, plan, generators)

    run(64 * max(2, steps // 10))
    _sync(device)
    start = time.perf_counter()
    run(n)
    _sync(device)
    return folds * n / (time.perf_counter() - start)


def dynamics_overhead(name, shape, classes, device, steps, pairs: int = 3) -> float:
    """Extra training time from recording dynamics: the median over ``pairs`` interleaved
    (with, without) measurements, so drifting machine load affects both alike."""
    ratios = []
    for _ in range(pairs):
        without = pipeline_rate(name, shape, classes, device, steps, Precision("fp32"))
        with_dynamics = pipeline_rate(name, shape, classes, device, steps, Precision("fp32"), True)
        ratios.append(without / with_dynamics - 1)
    return sorted(ratios)[len(ratios) // 2]
