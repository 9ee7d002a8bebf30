"""The demo: the paper's comparison on scikit-learn's digits, all seven losses x four noise
rates x two seeds (conf/experiment/demo_*.yaml), then Tables 1 and 2, Figures 1-4 and 7 (into
<results>/figures/), then the wall time.

Each sweep is one Hydra multirun on the parallel launcher (launcher=parallel: as many
experiments at once as --jobs, default one per core, each on cores // jobs threads).
Records already present are skipped, so a re-run only prints the tables.

    robustloss demo [--results results/demo] [--seeds 0 1] [--jobs N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from robustloss.errors import UserError, as_user_errors, cli
from robustloss.experiments.sweeps import pending_jobs
from robustloss.experiments.threads import cpu_cores
from robustloss.records import check_writable

SWEEPS = ("demo_baselines", "demo_blurry", "demo_piecewise_zero")


def run_sweep(overrides: list[str], log: Path) -> tuple[int, float]:
    start = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.call([sys.executable, "-m", "robustloss.run", "-m", *overrides],
                               stdout=handle, stderr=subprocess.STDOUT)
    return code, time.perf_counter() - start


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="robustloss demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/demo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=cpu_cores(),
                        help="experiments at once (default: one per core)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with as_user_errors():  # before any sweep starts
        log_dir = check_writable(Path(args.results) / "logs")
    if args.jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {args.jobs}")
    seeds = ",".join(map(str, args.seeds))
    sweeps = {sweep: [f"experiment={sweep}", f"seed={seeds}", f"results_dir={args.results}",
                      "launcher=parallel", f"hydra.launcher.n_jobs={args.jobs}"]
              for sweep in SWEEPS}
    todo = {}
    for name, overrides in sweeps.items():  # a sweep whose records all exist is not launched
        pending = len(pending_jobs(overrides))
        if pending:
            todo[name] = overrides
        print(f"  {name}: {pending} experiment(s) to run")
    print(f"demo: {len(todo)} sweep(s) on digits, {args.jobs} experiment(s) at a time; "
          f"logs in {log_dir}", flush=True)
    failed = []
    for name, overrides in todo.items():
        code, seconds = run_sweep(overrides, log_dir / f"{name}.log")
        print(f"  {'done' if code == 0 else 'FAILED'} in {seconds:5.1f}s: {name}", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"demo: {len(failed)} sweep(s) failed; see their logs", file=sys.stderr)
        return 1
    sys.stdout.flush()
    code = subprocess.call([sys.executable, "-m", "robustloss.cli", "tables", args.results])
    # Figures 1-4 and 7 from the demo's records (5 and 6 need the delay and AUM sweeps)
    code |= subprocess.call([sys.executable, "-m", "robustloss.cli", "figures", args.results,
                             "--only", "1,2,3,4,7"])
    print(f"\ndemo wall time: {time.perf_counter() - start:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
