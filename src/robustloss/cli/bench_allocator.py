"""What keeping freed memory (training/host_memory.py) buys: the small CNN's training step on
the CPU in fresh child processes, half with glibc's thresholds raised and half without,
interleaved so that a drifting machine load affects both alike. Prints samples/s and the
minor page faults per step (a count, steady whatever else the machine runs).

    python -m robustloss.cli.bench_allocator kept|returned STEPS     # one child: "rate faults"
"""

from __future__ import annotations

import resource
import subprocess
import sys

import torch

CASE = ("small_cnn", (1, 28, 28), 10)


def _child(mode: str, steps: int) -> None:
    from robustloss.cli.bench_rates import pipeline_rate
    from robustloss.training.host_memory import keep_freed_memory
    from robustloss.training.plan import TrainingPlan
    from robustloss.training.train_settings import TrainSettings

    torch.set_num_threads(1)
    if mode == "kept":
        keep_freed_memory()
    device = torch.device("cpu")
    precision = TrainingPlan.resolve(TrainSettings(), device).precision
    pipeline_rate(*CASE, device, steps, precision)  # first call: one-off allocations
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    rate = pipeline_rate(*CASE, device, steps, precision)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(rate, faults / steps)


def allocator_gain(steps: int = 40, pairs: int = 3) -> dict[str, float]:
    """Medians over ``pairs`` (returned, kept) child pairs: samples/s and page faults per step of
    each, and the speed ratio kept / returned."""
    runs: dict[str, list[tuple[float, float]]] = {"returned": [], "kept": []}
    for _ in range(pairs):
        for mode in runs:
            out = subprocess.run([sys.executable, "-m", "robustloss.cli.bench_allocator", mode,
                                  str(steps)], capture_output=True, text=True, check=True)
            rate, faults = map(float, out.stdout.split()[-2:])
            runs[mode].append((rate, faults))

    def median(values):
        return sorted(values)[len(values) // 2]

    result = {f"{mode} {what}": median([r[i] for r in measured])
              for mode, measured in runs.items()
              for i, what in enumerate(("samples_per_second", "faults_per_step"))}
    ratios = sorted(k[0] / f[0] for k, f in zip(runs["kept"], runs["returned"], strict=True))
    result["speed ratio kept / returned"] = median(ratios)
    result["speed ratio lowest"], result["speed ratio highest"] = ratios[0], ratios[-1]
    for mode in runs:
        print(f"{'small_cnn':15} {'allocator: freed memory ' + mode:34} "
              f"{result[f'{mode} samples_per_second']:10.0f} samples/s "
              f"{result[f'{mode} faults_per_step']:8.0f} page faults/step", flush=True)
    print(f"{'small_cnn':15} {'allocator: kept / returned':34} "
          f"{result['speed ratio kept / returned']:9.2f}x (median of {pairs} interleaved pairs; "
          f"{ratios[0]:.2f}–{ratios[-1]:.2f})")
    return result


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]))
