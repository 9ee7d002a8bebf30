"""The demo: the paper's comparison on scikit-learn's digits, all seven losses x four noise
rates x two seeds (conf/experiment/demo_*.yaml), then Tables 1 and 2, then the wall time.

Each (sweep, seed) pair is one Hydra multirun in its own process; as many run at once as
there are CPU cores, each on one thread. Records already present are skipped, so a re-run
only prints the tables.

    python scripts/demo.py [--results results/demo] [--seeds 0 1] [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SWEEPS = ("demo_baselines", "demo_blurry", "demo_piecewise_zero")
ROOT = Path(__file__).resolve().parents[1]


def run_sweep(sweep: str, seed: int, results: str, log_dir: Path) -> tuple[str, int, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    log = log_dir / f"{sweep}_seed{seed}.log"
    start = time.perf_counter()
    with log.open("w") as handle:
        code = subprocess.call(
            [sys.executable, "-m", "robustloss.run", "-m", f"experiment={sweep}", f"seed={seed}",
             f"results_dir={results}", "progress=false"],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    return f"{sweep} seed={seed} ({log})", code, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/demo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    start = time.perf_counter()
    log_dir = ROOT / args.results / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(sweep, seed) for seed in args.seeds for sweep in SWEEPS]
    print(f"demo: {len(jobs)} sweeps on digits, {args.jobs} at a time; logs in {log_dir}")
    failed = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_sweep, sweep, seed, args.results, log_dir) for sweep, seed in jobs]
        for future in futures:
            name, code, seconds = future.result()
            print(f"  {'done' if code == 0 else 'FAILED'} in {seconds:5.1f}s: {name}", flush=True)
            if code:
                failed.append(name)
    if failed:
        print(f"demo: {len(failed)} sweep(s) failed; see their logs", file=sys.stderr)
        return 1
    sys.stdout.flush()
    code = subprocess.call([sys.executable, "-m", "robustloss.tables", args.results], cwd=ROOT)
    print(f"\ndemo wall time: {time.perf_counter() - start:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
