"""Speed and memory benchmarks; prints numbers (no pass/fail).

    python scripts/bench.py [--device auto|cpu|cuda] [--steps 50]

1. training throughput (samples/s) of each model at batch 64 on its dataset's image shape,
   with the loop the pipeline uses (GPU-resident uint8 data, index-sliced batches);
2. the projected time of one paper-protocol experiment (5 folds x 10 epochs on 80% of the
   training set) from that throughput;
3. one whole digits experiment (5 folds x 10 epochs, Confident Learning), wall time;
4. peak memory (process RSS; CUDA max allocated).
"""

from __future__ import annotations

import argparse
import platform
import resource
import time

import torch

from robustloss import losses, models
from robustloss.experiment import ExperimentSettings, run_experiment
from robustloss.provenance import describe_device, resolve_device
from robustloss.train import TrainSettings, fit

# model, image shape, classes, training-set size of the paper's dataset
CASES = [("small_cnn", (1, 28, 28), 10, 60000), ("resnet32", (3, 32, 32), 100, 50000),
         ("resnet34_cifar", (3, 32, 32), 100, 50000)]


def throughput(name, shape, classes, device, steps) -> float:
    model = models.build(name, shape, classes).to(device)
    n = 64 * steps
    images = torch.randint(0, 256, (n, *shape), dtype=torch.uint8, device=device)
    labels = torch.randint(0, classes, (n,), device=device)
    schedule = losses.LossSchedule(losses.build("blurry", classes, gamma=0.4))
    settings = TrainSettings(epochs=1)
    warm = 64 * max(2, steps // 10)
    fit(model, images[:warm], labels[:warm], schedule, settings, torch.Generator().manual_seed(0))
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fit(model, images, labels, schedule, settings, torch.Generator().manual_seed(0))
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=None, help="batches per measurement")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(f"device: {describe_device(device)}; torch {torch.__version__}; "
          f"python {platform.python_version()}")
    print(f"{'model':16} {'input':>10} {'samples/s':>10} {'paper experiment (5x10 epochs)':>32}")
    for name, shape, classes, n_train in CASES:
        steps = args.steps or (100 if device.type == "cuda" else (60 if name == "small_cnn" else 4))
        rate = throughput(name, shape, classes, device, steps)
        projected = 5 * 10 * 0.8 * n_train / rate
        print(f"{name:16} {'x'.join(map(str, shape)):>10} {rate:10.0f} {projected / 60:28.1f} min")
    settings = ExperimentSettings.from_dict({
        "dataset": {"name": "digits"}, "loss": {"name": "blurry", "gamma": 0.4},
        "model": {"name": "small_cnn"}, "detector": {"name": "confident_learning"},
        "train": {"lr": 3e-3}, "device": args.device})
    start = time.perf_counter()
    record, _ = run_experiment(settings, progress=False)
    print(f"digits experiment (5 folds x 10 epochs + cleanlab): {time.perf_counter() - start:.2f} s, "
          f"{record['timings']['samples_per_second']:.0f} samples/s, F1 {record['metrics']['f1']:.3f}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if device.type == "cuda":
        print(f"peak CUDA memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
