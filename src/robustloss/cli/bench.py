"""Speed and memory benchmarks; prints numbers (no pass/fail) and writes them as JSON.

    robustloss bench [--device auto|cpu|cuda] [--steps N] [--json bench.json] [--floor-only]

First the share of the machine's floor each model's training step reaches
(robustloss.cli.bench_floor: counted FLOPs, GEMM FLOP/s, CPU flags, the small CNN's step
against its textbook form). Then, per model (small CNN on MNIST shapes, ResNet-32 and
ResNet-34 on CIFAR shapes; generated uint8 data), training throughput (samples/s, fwd +
bwd + optimiser step, batch 64) of:
- baseline: the loop the paper's code uses (a DataLoader over a float32 TensorDataset,
  a host-to-device copy per batch, float32);
- pipeline fp32: this project's loop (device-resident uint8 data, index-sliced batches);
- each lever alone: channels-last, bfloat16 autocast; and together (bf16 + channels-last =
  train.precision=bf16 on a CPU); float16 + GradScaler on CUDA;
- the K = 5 folds stacked into one vmapped model (train.stack=stacked; networks without
  BatchNorm), in fp32 and in this device's auto precision;
- ``auto``: what train.precision=auto and train.stack=auto pick on this device;
- recording dynamics (p_y and margins of every sample, fp32): its overhead;
- on a CPU, what keeping freed memory buys the small CNN (robustloss.cli.bench_allocator);
with the projected wall time of one paper-protocol experiment (5 folds x 10 epochs on 80% of
the training set) and the ratio to the baseline. Then one whole digits experiment and peak
memory.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import torch

from robustloss.cli.bench_allocator import allocator_gain
from robustloss.cli.bench_floor import floor_table
from robustloss.cli.bench_rates import baseline_rate, dynamics_overhead, pipeline_rate, stacked_rate
from robustloss.cli.bench_sweeps import sweep_throughput
from robustloss.components import models
from robustloss.components.noise import NOISE_KINDS, corrupt
from robustloss.errors import as_user_errors, cli
from robustloss.experiments.experiment import ExperimentSettings, run_experiment
from robustloss.experiments.provenance import describe_device, resolve_device
from robustloss.training.plan import TrainingPlan, why_not_stackable
from robustloss.training.precision import Precision
from robustloss.training.train_settings import TrainSettings

# model, image shape, classes, training-set size of the paper's dataset
CASES = [("small_cnn", (1, 28, 28), 10, 60000), ("resnet32", (3, 32, 32), 100, 50000),
         ("resnet34_cifar", (3, 32, 32), 100, 50000)]


def peak_memory_mib(device) -> float:
    """CUDA: the peak allocated since the last call (reset after reading); CPU: the
    process's peak resident set so far (it cannot be reset)."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
        return peak
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def variants(device):
    cpu = device.type == "cpu"
    out = {"pipeline fp32": Precision("fp32"),
           "+ channels-last": Precision("fp32", channels_last=True),
           "+ bf16 autocast": Precision("bf16"),
           "+ bf16 + channels-last": Precision("bf16", channels_last=True)}
    if not cpu:
        out["+ fp16 + GradScaler"] = Precision("fp16")
    return out


def noise_generation_seconds(device) -> dict[str, float]:
    """Seconds to corrupt 60,000 labels of 28x28 images (MNIST's size) with each noise kind,
    and 50,000 of 3x32x32 with 100 classes (CIFAR-100's) for the instance-dependent kind."""
    generator = torch.Generator().manual_seed(0)
    cases = {"mnist": (torch.randint(0, 256, (60000, 1, 28, 28), dtype=torch.uint8,
                                     generator=generator), 10),
             "cifar100": (torch.randint(0, 256, (50000, 3, 32, 32), dtype=torch.uint8,
                                        generator=generator), 100)}
    seconds = {}
    for dataset, (images, classes) in cases.items():
        labels = np.random.default_rng(0).integers(0, classes, len(images))
        kinds = NOISE_KINDS if dataset == "mnist" else ("instance",)
        for kind in kinds:
            start = time.perf_counter()
            corrupt(kind, labels, classes, 0.4, 0, dataset=dataset, images=images.to(device),
                    device=device)
            seconds[f"{dataset} {kind}"] = time.perf_counter() - start
            print(f"{'noise':15} {dataset + ' ' + kind:34} {seconds[f'{dataset} {kind}']:10.2f} s "
                  f"({len(images):,} labels)", flush=True)
    return seconds


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="robustloss bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=None, help="batches per measurement")
    parser.add_argument("--json", default="results/bench.json", help="where to write the numbers")
    parser.add_argument("--models", default=",".join(c[0] for c in CASES))
    parser.add_argument("--no-sweeps", action="store_true",
                        help="leave out sweep throughput (local vs parallel; CPUs only)")
    parser.add_argument("--only-sweeps", action="store_true", help="only sweep throughput")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for the training measurements (default 1: the "
                             "ratios the project quotes are one-thread numbers)")
    parser.add_argument("--floor-only", action="store_true",
                        help="only the share-of-floor table (a minute or two on a CPU)")
    args = parser.parse_args(argv)
    with as_user_errors():
        device = resolve_device(args.device)
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    with as_user_errors():
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    header = (f"device: {describe_device(device)}; torch {torch.__version__}; "
              f"python {platform.python_version()}; threads {torch.get_num_threads()}")
    print(header)
    results = {"machine": header, "models": {}}
    if args.only_sweeps:
        results["sweeps"] = sweep_throughput()
        return _write(results, args.json)
    results["floor"] = floor_table(device, names=args.models.split(","))
    if args.floor_only:
        return _write(results, args.json)
    print(f"{'model':15} {'variant':34} {'samples/s':>10} {'x baseline':>10} {'paper experiment':>17}")
    for name, shape, classes, n_train in CASES:
        if name not in args.models.split(","):
            continue
        steps = args.steps or (100 if device.type == "cuda" else (40 if name == "small_cnn" else 3))
        rates = {"baseline (paper code's loop)": baseline_rate(name, shape, classes, device, steps)}
        for label, precision in variants(device).items():
            rates[label] = pipeline_rate(name, shape, classes, device, steps, precision)
        probe = models.build(name, shape, classes)
        auto_plan = TrainingPlan.resolve(TrainSettings(), device).for_folds(
            lambda: probe, [64 * steps] * 5)  # noqa: B023 (called right here)
        auto, stacks = auto_plan.precision, auto_plan.stacked
        if why_not_stackable(probe) is None:
            rates["5 folds stacked, fp32"] = stacked_rate(name, shape, classes, device, steps,
                                                          Precision("fp32"))
            rates[f"5 folds stacked, {auto.name}"] = stacked_rate(name, shape, classes, device,
                                                                 steps, auto)
        auto_label = f"= auto ({auto.name}{' + channels-last' if auto.channels_last else ''}" \
                     f"{', stacked' if stacks else ''})"
        rates[auto_label] = (rates[f"5 folds stacked, {auto.name}"] if stacks else
                             pipeline_rate(name, shape, classes, device, steps, auto))
        rates["pipeline fp32 + dynamics"] = pipeline_rate(name, shape, classes, device, steps,
                                                          Precision("fp32"), dynamics=True)
        base = rates["baseline (paper code's loop)"]
        results["models"][name] = {}
        for label, rate in rates.items():
            projected = 5 * 10 * 0.8 * n_train / rate
            results["models"][name][label] = {"samples_per_second": rate, "ratio": rate / base,
                                              "projected_experiment_seconds": projected}
            print(f"{name:15} {label:34} {rate:10.0f} {rate / base:9.2f}x "
                  f"{projected / 60:12.1f} min", flush=True)
        if name == "small_cnn" and device.type == "cpu":
            results["allocator"] = allocator_gain(steps)
        overhead = dynamics_overhead(name, shape, classes, device, steps)
        results["models"][name]["dynamics_overhead"] = overhead
        print(f"{name:15} {'dynamics recording cost':34} {100 * overhead:+9.1f} % of fp32 training time "
              "(median of 3 interleaved pairs)")
        peak = peak_memory_mib(device)
        results["models"][name]["peak_memory_mib"] = peak
        print(f"{name:15} {'peak memory so far':34} {peak:10.0f} MiB "
              f"({'CUDA allocated, this model' if device.type == 'cuda' else 'process RSS'})")
    results["noise_seconds"] = noise_generation_seconds(device)
    settings = ExperimentSettings.from_dict({
        "dataset": {"name": "digits"}, "loss": {"name": "blurry", "gamma": 0.4},
        "model": {"name": "small_cnn"}, "detector": {"name": "confident_learning"},
        "train": {"lr": 3e-3, "inputs": "unit"}, "device": args.device})
    start = time.perf_counter()
    record, _ = run_experiment(settings, progress=False)
    digits = time.perf_counter() - start
    print(f"digits experiment (5 folds x 10 epochs + cleanlab): {digits:.2f} s, "
          f"F1 {record['metrics']['f1']:.3f}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MiB")
    results.update(digits_experiment_seconds=digits, peak_rss_mib=peak)
    if device.type == "cpu" and not args.no_sweeps:
        results["sweeps"] = sweep_throughput()
    _write(results, args.json)


def _write(results: dict, path: str) -> None:
    with open(path, "w") as handle:
        json.dump(results, handle, indent=2)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
