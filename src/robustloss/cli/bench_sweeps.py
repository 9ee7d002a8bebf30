"""Sweep throughput on this machine: the same sweep one experiment after another
(``launcher=local``, one process using every core) and side by side (``launcher=parallel``,
one experiment per core, one thread each); and one experiment alone on 1 thread vs every
core. Part of ``robustloss bench`` on CPUs (``--no-sweeps`` leaves it out).

Each measurement is a fresh ``robustloss run`` process (start-up included, as a user pays
it) writing into a temporary folder with ``force=true``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from robustloss.experiments.sweeps import expand
from robustloss.experiments.threads import cpu_cores

# 8 digits experiments (the demo's protocol) and 4 MNIST ones on a 2,000-image subset
SWEEPS = {
    "digits": ["dataset=digits", "loss=ce,focal,gce,blurry", "seed=0,1"],
    "mnist (n=2000, 3 epochs)": ["dataset=mnist", "dataset.subset=2000", "train.epochs=3",
                                 "loss=ce,blurry", "seed=0,1"],
}
ONE_EXPERIMENT = ["dataset=mnist", "dataset.subset=2000", "train.epochs=3", "loss=blurry",
                  "loss.gamma=0.4"]


def _robustloss_run(args: list[str], folder: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "robustloss.run", *args, f"results_dir={folder}",
                           "force=true", "progress=false"], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"robustloss run {' '.join(args)} failed: {done.stderr[-1500:]}")
    return time.perf_counter() - start


def _has_mnist() -> bool:
    return (Path(os.environ.get("ROBUSTLOSS_DATA", "data")) / "MNIST" / "raw").is_dir()


def sweep_throughput() -> dict:
    """Experiments per minute, local vs parallel, per sweep; then one MNIST experiment on
    1 thread vs every core. Prints a line per measurement."""
    cores, results = cpu_cores(), {"cores": cpu_cores()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in SWEEPS.items():
            if "mnist" in name and not _has_mnist():
                print(f"{'sweep':15} {name:34} skipped: no MNIST under $ROBUSTLOSS_DATA")
                continue
            count = len(expand(overrides))
            row = {"experiments": count}
            slug = name.split()[0]  # a folder name Hydra's override grammar accepts
            for launcher in ("local", "parallel"):
                folder = Path(tmp) / slug / launcher
                seconds = _robustloss_run(
                    ["-m", *overrides, f"launcher={launcher}", f"hydra.sweep.dir={folder}"], folder)
                row[launcher] = {"seconds": seconds, "per_minute": 60 * count / seconds}
                print(f"{'sweep':15} {name + ', ' + launcher:34} {60 * count / seconds:10.2f} "
                      f"experiments/min ({count} in {seconds:.0f} s)", flush=True)
            row["speedup"] = row["local"]["seconds"] / row["parallel"]["seconds"]
            print(f"{'sweep':15} {name + ', parallel / local':34} {row['speedup']:10.2f}x "
                  f"({cores} cores)", flush=True)
            results[name] = row
        if _has_mnist():
            one = {}
            for threads in sorted({1, cores}):
                one[threads] = _robustloss_run([*ONE_EXPERIMENT, f"threads={threads}"],
                                               Path(tmp) / f"one_{threads}")
                print(f"{'one experiment':15} {f'mnist n=2000, {threads} thread(s)':34} "
                      f"{one[threads]:10.1f} s", flush=True)
            results["one_mnist_experiment_seconds_by_threads"] = one
    return results
