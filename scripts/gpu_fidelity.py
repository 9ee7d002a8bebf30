"""The paper's Table 1 cells at eta = 0.2 for MNIST and Fashion-MNIST, through the default
config, in a fixed order until a time budget runs out (``make gpu-fidelity OUT=dir
BUDGET_MIN=10``): all seven columns at the paper's best gamma / c for seed 0 (MNIST, then
Fashion-MNIST), then seed 1, and so on. On a CPU a cell costs ~40 minutes; on a GPU
seconds: this is how the project gets a full fidelity row per dataset.

An experiment is started only when the time left exceeds the longest one so far (the first
always starts); records already in OUT are skipped, so a second call continues the list.
Afterwards ``robustloss tables OUT --paper`` shows them beside the paper.

    ROBUSTLOSS_DATA=../shared/data python scripts/gpu_fidelity.py --out gpu_fidelity \\
        [--budget-min 10] [--seeds 5] [--datasets mnist,fashion_mnist]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import pandas as pd

import robustloss
from robustloss.reporting.paper import LOSS_COLUMNS, published

PAPER_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}
ETA = 0.2


def cells(dataset: str) -> list[list[str]]:
    """The overrides of the seven Table 1 columns at eta = 0.2, BL / PZ at the paper's best."""
    rows = published()
    rows = rows[(rows.table == "table1_f1") & (rows.dataset == PAPER_NAMES[dataset])
                & (pd.to_numeric(rows.eta, errors="coerce") == ETA)]
    out = []
    for loss, (column, param) in LOSS_COLUMNS.items():
        extra = []
        if param:
            value = rows[rows.loss == column].param_value.astype(float).iloc[0]
            extra = [f"loss.{param}={value:g}"]
        out.append([f"dataset={dataset}", f"loss={loss}", *extra, f"noise.rate={ETA}"])
    return out


def plan(datasets: list[str], seeds: int) -> list[list[str]]:
    return [[*cell, f"seed={seed}"] for seed in range(seeds) for dataset in datasets
            for cell in cells(dataset)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="records folder")
    parser.add_argument("--budget-min", type=float, default=10.0)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default="mnist,fashion_mnist")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    datasets = args.datasets.split(",")
    unknown = sorted(set(datasets) - set(PAPER_NAMES))
    if unknown:
        print(f"gpu-fidelity: --datasets {unknown} not in {sorted(PAPER_NAMES)}", file=sys.stderr)
        return 2
    jobs = [robustloss.compose([*o, f"device={args.device}"]) for o in plan(datasets, args.seeds)]
    start, longest, ran = time.perf_counter(), 0.0, 0
    for number, settings in enumerate(jobs, 1):
        left = args.budget_min * 60 - (time.perf_counter() - start)
        if ran and left < longest:
            print(f"budget reached: {number - 1} of {len(jobs)} cells done or skipped")
            break
        began = time.perf_counter()
        record, did_run = robustloss.run_and_record(settings, args.out, progress=False)
        took = time.perf_counter() - began
        if did_run:
            ran += 1
            longest = max(longest, took)
        print(f"[{number}/{len(jobs)}] {settings.dataset.name} {settings.loss.name} "
              f"{settings.loss.params or ''} seed {settings.seed}: F1 {record['metrics']['f1']:.4f} "
              f"({f'ran in {took:.0f} s' if did_run else 'record exists'})", flush=True)
    return subprocess.call([sys.executable, "-m", "robustloss.cli", "tables", args.out, "--paper"])


if __name__ == "__main__":
    sys.exit(main())
