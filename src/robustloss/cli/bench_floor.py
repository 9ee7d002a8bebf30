"""How close a training step runs to the machine's own floor. Part of ``robustloss bench``.

For each model (the small CNN at 28x28, ResNet-32 and ResNet-34 at 32x32) and each precision
this device runs natively (float32; bfloat16 where the CPU has AVX512-BF16 or AMX, or the GPU
supports it): samples/s of the pipeline's full training step (forward, backward, Adam) at
the paper's batch size, the model's FLOPs per sample (counted by
``torch.utils.flop_counter``, forward + backward), the FLOP/s that makes, the same run's
GEMM FLOP/s in that precision (2048 x 2048 products) and their ratio, the **share of the
floor**. For the small CNN also the step as it was before the fast step landed (the
textbook layer order, torch's dropout, glibc's default allocator: measured in a fresh
process, and so is the step now, alternating) in each precision, with the median ratio.
Every rate is the median of three timed repeats.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from robustloss.components import losses, models
from robustloss.training.loop import fit
from robustloss.training.plan import TrainingPlan
from robustloss.training.precision import Precision, resolve_precision, supports_bf16
from robustloss.training.train_settings import TrainSettings

FLOOR_CASES = [("small_cnn", (1, 28, 28), 10), ("resnet32", (3, 32, 32), 100),
               ("resnet34_cifar", (3, 32, 32), 100)]
BATCH = 64


def cpu_flags() -> dict[str, bool]:
    """The CPU features that decide the arithmetic path (Linux: /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines()
                      if line.startswith("flags")), []))
    return {name: name in flags for name in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")}


def textbook_small_cnn(input_shape, num_classes: int, dropout1: float = 0.25,
                       dropout2: float = 0.5) -> nn.Sequential:
    """The small CNN as the step ran before it was made fast: ReLU -> max-pool -> torch's
    dropout -> (C, H, W) flatten, an nn.Sequential (the baseline of the ratio)."""
    channels, height, width = input_shape
    flat = 64 * ((height - 4) // 2) * ((width - 4) // 2)
    return nn.Sequential(nn.Conv2d(channels, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Dropout(dropout1), nn.Flatten(), nn.Linear(flat, 128),
                         nn.ReLU(), nn.Dropout(dropout2), nn.Linear(128, num_classes))


def _build(name: str, shape, classes: int) -> nn.Module:
    return textbook_small_cnn(shape, classes) if name == "textbook_small_cnn" else \
        models.build(name, shape, classes)


def step_rate(name: str, shape, classes: int, precision: Precision, steps: int,
              device: torch.device, repeats: int = 3) -> float:
    """Median samples/s of ``fit`` (the pipeline's loop: Adam, Blurry Loss) on ``steps``
    batches of generated uint8 images, after one warm-up epoch."""
    torch.manual_seed(0)
    model = _build(name, shape, classes).to(device)
    n = BATCH * steps
    images = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, device=device)
    labels = torch.randint(0, classes, (n,), device=device)
    schedule = losses.LossSchedule(losses.build("blurry", classes, gamma=0.4))
    plan = TrainingPlan(TrainSettings(epochs=1), device, precision)
    warm = BATCH * max(2, steps // 5)
    fit(model, images[:warm], labels[:warm], schedule, plan, torch.Generator().manual_seed(0))
    rates = []
    for repeat in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fit(model, images, labels, schedule, plan, torch.Generator().manual_seed(repeat))
        if device.type == "cuda":
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def _rate_in_fresh_process(args) -> float:
    threads, *rest = args
    torch.set_num_threads(threads)
    return step_rate(*rest)


def step_ratio(shape, classes, precision: Precision, steps, device, pairs: int = 3) -> dict:
    """The small CNN's step now against its textbook form, each measured in a fresh process
    (glibc's default allocator where the textbook step runs: the pipeline's setting, once
    made, lasts for the process), ``pairs`` alternating pairs; the median ratio. The
    textbook step runs in ``precision`` as it was resolved before the fast step landed
    (channels-last with bfloat16 only)."""
    before = Precision(precision.name, channels_last=precision.name == "bf16" and device.type == "cpu")
    context = multiprocessing.get_context("spawn")
    rates = {"textbook_small_cnn": [], "small_cnn": []}
    for _ in range(pairs):
        for name, measured in rates.items():
            with context.Pool(1) as pool:
                arithmetic = before if name == "textbook_small_cnn" else precision
                measured.append(pool.apply(_rate_in_fresh_process, (
                    (torch.get_num_threads(), name, shape, classes, arithmetic, steps, device),)))
    ratios = [now / before for now, before in zip(rates["small_cnn"], rates["textbook_small_cnn"],
                                                   strict=True)]
    return {"textbook_samples_per_second": rates["textbook_small_cnn"],
            "fast_samples_per_second": rates["small_cnn"], "ratio": statistics.median(ratios),
            "ratios": ratios}


def flops_per_sample(name: str, shape, classes: int, device: torch.device) -> float:
    """Forward + backward FLOPs of one training sample, counted by torch's FlopCounterMode
    on a batch of BATCH (dropout and loss included; element-wise ops count zero there)."""
    model = _build(name, shape, classes).to(device).train()
    x = torch.rand(BATCH, *shape, device=device)
    y = torch.randint(0, classes, (BATCH,), device=device)
    counter = FlopCounterMode(display=False)
    with counter:
        losses.build("ce", classes)(model(x), y).mean().backward()
    return counter.get_total_flops() / BATCH


def gemm_flops_per_second(dtype: torch.dtype, device: torch.device, size: int = 2048,
                          repeats: int = 5) -> float:
    """FLOP/s of square matrix products in ``dtype`` on this device and thread count: the
    floor the training step is compared with."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    a @ b
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times)


def floor_table(device: torch.device, steps: dict[str, int] | None = None,
                names: list[str] | None = None) -> dict:
    """The measurements above, printed as they come, returned as a dict for bench.json."""
    precisions = {"fp32": resolve_precision("fp32", device)}
    if supports_bf16(device):
        precisions["bf16"] = resolve_precision("bf16", device)
    gemm = {label: gemm_flops_per_second(p.dtype or torch.float32, device)
            for label, p in precisions.items()}
    out = {"cpu_flags": cpu_flags() if device.type == "cpu" else None,
           "gemm_flops_per_second": gemm, "models": {}}
    print(f"CPU flags: {out['cpu_flags']}" if device.type == "cpu" else f"device {device}")
    for label, rate in gemm.items():
        print(f"GEMM 2048^2 {label}: {rate / 1e9:.0f} GFLOP/s")
    print(f"{'model':15} {'precision':10} {'samples/s':>10} {'MFLOP/sample':>13} "
          f"{'GFLOP/s':>8} {'share of floor':>15}")
    for name, shape, classes in FLOOR_CASES:
        if names and name not in names:
            continue
        n_steps = (steps or {}).get(name) or (30 if name == "small_cnn" else 2)
        flops = flops_per_sample(name, shape, classes, device)
        rows = {}
        for label, precision in precisions.items():
            rate = step_rate(name, shape, classes, precision, n_steps, device)
            rows[label] = {"samples_per_second": rate, "flops_per_sample": flops,
                           "flops_per_second": rate * flops,
                           "share_of_floor": rate * flops / gemm[label]}
            print(f"{name:15} {label:10} {rate:10.0f} {flops / 1e6:13.1f} "
                  f"{rate * flops / 1e9:8.1f} {100 * rate * flops / gemm[label]:14.1f}%", flush=True)
        if name == "small_cnn":
            auto = resolve_precision("auto", device).name
            for label, precision in precisions.items():
                rows[label]["against_textbook"] = pair = step_ratio(shape, classes, precision,
                                                                     n_steps, device)
                print(f"{name:15} {label:10} the step now runs {pair['ratio']:.2f}x the textbook "
                      f"step (median of {len(pair['ratios'])} alternating fresh-process pairs: "
                      f"{', '.join(f'{r:.2f}' for r in pair['ratios'])})"
                      f"{'; = auto here' if label == auto else ''}", flush=True)
        out["models"][name] = rows
    return out
