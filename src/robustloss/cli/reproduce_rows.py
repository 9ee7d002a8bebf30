"""``robustloss reproduce rows``: whole rows of Table 1 (or Table 2's own γ / c) over a few
seeds, planned from the paper's published table (reporting/paper/rows.py), resumable.

    robustloss reproduce rows --rates 0.4                     # MNIST and Fashion-MNIST at eta 0.4
    robustloss reproduce rows --rates 0.2 --settings table2   # Table 2's gamma / c at eta 0.2
    robustloss reproduce rows --rates 0.4,0.1,0.3 --list      # what is done, what is missing

Lists every experiment of the plan as done or missing, then runs only the missing ones, in the
plan's order (rows in the order of --rates, then datasets; within a row seed by seed): with
--launcher parallel one experiment per core, each on its own threads; local one after
another; slurm one job array per loss setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from robustloss.errors import as_user_errors
from robustloss.experiments.sweeps import pending_jobs
from robustloss.reporting.paper.rows import row_plan

DATASETS = ("mnist", "fashion_mnist")


def planned_jobs(args, results: str) -> list[list[str]]:
    datasets = args.datasets.split(",") if args.datasets else list(DATASETS)
    with as_user_errors():
        try:
            rates = [float(r) for r in (args.rates or "0.2").split(",")]
        except ValueError:
            raise ValueError(f"--rates must be a comma list of numbers, got {args.rates!r}") from None
        jobs = [job for rate in rates for dataset in datasets
                for job in row_plan(dataset, rate, args.settings, args.seeds or 3)]
    return [[*job, f"results_dir={results}", "progress=false", *args.overrides] for job in jobs]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _slurm_commands(jobs: list[list[str]]) -> list[list[str]]:
    """One multirun per loss setting (the job without its seed), its seeds as a sweep."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for job in jobs:
        seed = next(o for o in job if o.startswith("seed="))
        groups.setdefault(tuple(o for o in job if o != seed), []).append(seed.split("=", 1)[1])
    return [[sys.executable, "-m", "robustloss.run", "-m", "launcher=slurm", *rest,
             f"seed={','.join(seeds)}"] for rest, seeds in groups.items()]


def run_rows(args, results: str) -> int:
    """Print the plan with each experiment done or missing; run the missing ones unless
    ``args.list``. Returns the worst exit code."""
    jobs = planned_jobs(args, results)
    missing = [job for job in jobs if pending_jobs(job)]
    for job in jobs:
        shown = " ".join(o for o in job if not o.startswith(("results_dir=", "progress=")))
        print(f"{'missing' if job in missing else 'done   '}  {shown}", flush=True)
    print(f"{len(jobs) - len(missing)} of {len(jobs)} done, {len(missing)} missing", flush=True)
    if args.list or not missing:
        return 0
    if args.launcher == "slurm":
        commands = _slurm_commands(missing)
        workers = len(commands)
    else:
        workers = _cores() if args.launcher == "parallel" else 1
        threads = [] if any(o.startswith("threads=") for o in args.overrides) else [
            f"threads={max(1, _cores() // workers)}"]                 # a user's threads= wins
        commands = [[sys.executable, "-m", "robustloss.run", *job, *threads] for job in missing]

    def run(cmd: list[str]) -> int:
        print("+", " ".join(cmd[3:]), flush=True)
        return subprocess.call(cmd)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        codes = list(pool.map(run, commands))
    return max(abs(code) for code in codes)   # a run killed by a signal has a negative code
