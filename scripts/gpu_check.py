"""The CUDA paths, run for real in a few minutes on a GPU machine (``make gpu-check
OUT=dir``): what the CPU tests can only decide, checked on the device.

1. precision: ``train.precision=auto`` resolves to bf16 (or fp16 + GradScaler on GPUs
   without bf16) and a model trains under it (finite, falling loss);
2. stacking: ``train.stack=auto`` stacks the folds on CUDA, and stacked equals sequential
   (fp32, digits, 3 epochs) to tolerance;
3. dynamics: an AUM experiment with ``dynamics=first_fold`` records finite margins on CUDA;
4. ``robustloss bench --device cuda`` (first its share-of-floor table: the small CNN's fast
   step beside the textbook step, samples/s in each precision);
5. one full MNIST experiment, CE and BL gamma=0.4 at eta=0.2 (the paper's protocol), wall
   time and F1 beside this project's CPU numbers (README).

Writes ``<out>/gpu_check.json`` (and the records under ``<out>/records``); each step's
result is saved as soon as it is known, so a run cut short keeps what it reached.
Needs ROBUSTLOSS_DATA with MNIST for step 5 (skipped, and said, without it).

    python scripts/gpu_check.py --out gpu_results [--skip-mnist]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import robustloss
from robustloss.components import losses, models
from robustloss.data import load
from robustloss.training.crossval import cross_validate
from robustloss.training.loop import fit
from robustloss.training.plan import TrainingPlan
from robustloss.training.train_settings import TrainSettings

# This project's CPU measurements of the same MNIST experiments (README, "Speed"): one
# thread of an AMD EPYC with AVX512-BF16, bf16 + channels-last.
CPU_MNIST = {"ce": {"f1": 0.9735, "seconds": 2301}, "blurry": {"f1": 0.9835, "seconds": 2267}}
PAPER_MNIST = {"ce": 0.975, "blurry": 0.984}


def check_precision(device: torch.device) -> dict:
    plan = TrainingPlan.resolve(TrainSettings(epochs=3, lr=3e-3, inputs="unit"), device)
    data = load("digits")
    torch.manual_seed(0)
    model = models.build("small_cnn", (1, 8, 8), 10).to(device)
    epoch_losses = []
    fit(model, data.images.to(device), torch.as_tensor(data.labels, device=device),
        losses.LossSchedule(losses.build("blurry", 10, gamma=0.4)), plan,
        torch.Generator().manual_seed(0), on_epoch_end=lambda e, loss: epoch_losses.append(loss))
    ok = all(np.isfinite(epoch_losses)) and epoch_losses[-1] < epoch_losses[0]
    return {"ok": bool(ok), "resolved": plan.precision.name,
            "grad_scaler": plan.precision.needs_grad_scaler,
            "bf16_supported": torch.cuda.is_bf16_supported(), "epoch_losses": epoch_losses}


def check_stacking(device: torch.device) -> dict:
    data = load("digits")
    settings = TrainSettings(epochs=3, lr=3e-3, inputs="unit", precision="fp32")
    results = {}
    for stack in ("auto", "sequential"):
        plan = TrainingPlan.resolve(replace(settings, stack=stack), device)
        start = time.perf_counter()
        results[stack] = cross_validate(
            data.images, data.labels, 10, lambda: models.build("small_cnn", (1, 8, 8), 10),
            losses.LossSchedule(losses.build("ce", 10)), plan, folds=5, seed=3, progress=False)
        results[stack + "_seconds"] = time.perf_counter() - start
    stacked, sequential = results["auto"], results["sequential"]
    difference = float(np.abs(stacked.probabilities - sequential.probabilities).max())
    return {"ok": bool(stacked.plan.stacked and difference < 1e-3),
            "auto_stacks_on_cuda": stacked.plan.stacked, "max_probability_difference": difference,
            "stacked_seconds": results["auto_seconds"],
            "sequential_seconds": results["sequential_seconds"]}


def run_experiment(overrides: list[str], out: Path) -> dict:
    settings = robustloss.compose(overrides)
    start = time.perf_counter()
    record, _ = robustloss.run_and_record(settings, str(out / "records"), force=True,
                                          progress=False)
    return {"overrides": overrides, "id": record["id"], "seconds": time.perf_counter() - start,
            "f1": record["metrics"]["f1"], "arithmetic": record["arithmetic"]}


def check_dynamics(out: Path) -> dict:
    result = run_experiment(["dataset=digits", "detector=aum", "loss=blurry", "loss.gamma=0.4",
                             "noise.rate=0.2", "dynamics=first_fold", "device=cuda"], out)
    with np.load(out / "records" / f"{result['id']}.npz") as arrays:
        margins = arrays["dynamics_margin"]
        trained = np.isfinite(margins.astype(np.float32)).all(axis=-1).mean()
    return {**result, "ok": bool(margins.ndim == 3 and trained > 0.5),
            "margin_shape": list(margins.shape), "rows_with_finite_margins": float(trained)}


def run_bench(out: Path) -> dict:
    path = out / "bench.json"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "robustloss.cli", "bench", "--device", "cuda",
                           "--json", str(path)], capture_output=True, text=True)
    result = {"ok": done.returncode == 0, "seconds": time.perf_counter() - start,
              "output": done.stdout[-4000:] + done.stderr[-2000:]}
    if path.exists():
        result["bench"] = json.loads(path.read_text())
    return result


def mnist_experiments(out: Path) -> dict:
    if not (Path(os.environ.get("ROBUSTLOSS_DATA", "data")) / "MNIST").exists():
        return {"skipped": "no MNIST under $ROBUSTLOSS_DATA"}
    rows = {}
    for loss, extra in (("ce", []), ("blurry", ["loss.gamma=0.4"])):
        row = run_experiment(["dataset=mnist", f"loss={loss}", *extra, "noise.rate=0.2",
                              "seed=0", "device=cuda"], out)
        cpu = CPU_MNIST[loss]
        rows[loss] = {**row, "paper_f1": PAPER_MNIST[loss], "cpu_f1": cpu["f1"],
                      "cpu_seconds": cpu["seconds"], "speedup_vs_cpu": cpu["seconds"] / row["seconds"]}
        print(f"MNIST {loss}: F1 {row['f1']:.4f} (CPU {cpu['f1']}, paper {PAPER_MNIST[loss]}) "
              f"in {row['seconds']:.0f} s (CPU {cpu['seconds']} s)", flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_check.json and records")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--skip-bench", action="store_true")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device visible to torch; run it on a GPU machine", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda")
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
              "cuda": torch.version.cuda, "robustloss": robustloss.__version__}
    steps = [("precision", lambda: check_precision(device)),
             ("stacking", lambda: check_stacking(device)),
             ("dynamics", lambda: check_dynamics(out))]
    if not args.skip_bench:
        steps.append(("bench", lambda: run_bench(out)))
    if not args.skip_mnist:
        steps.append(("mnist", lambda: mnist_experiments(out)))
    failed = False
    for name, step in steps:
        start = time.perf_counter()
        try:
            report[name] = step()
        except Exception as err:  # noqa: BLE001 -- recorded, the next step still runs
            report[name] = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        report[name]["step_seconds"] = time.perf_counter() - start
        failed |= report[name].get("ok") is False
        print(f"{name}: {'FAILED' if report[name].get('ok') is False else 'ok'} "
              f"({report[name]['step_seconds']:.0f} s)", flush=True)
        (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"-> {out / 'gpu_check.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
