"""Reproduce one of the paper's tables: one Hydra multirun per loss family (on this machine,
one experiment per core with the default --launcher parallel; one after another with
local; as SLURM job arrays with slurm), then the tables beside the paper's numbers.

    robustloss reproduce rows --rates 0.4 [--settings table2] [--seeds 3] [--list]   (cli/reproduce_rows.py)
    robustloss reproduce table1|table3|table4|table5|noise_kinds|figures [--launcher parallel|local|slurm]
        [--datasets mnist,cifar10]
        [--seeds 3] [--rates 0.2,0.4] [--gammas 0.3,0.4] [--cs 0.01,0.02] [--smoke]
        [-- any.hydra=override ...]

The grids live in conf/experiment/<table>.yaml (`sweep` block). Finished experiments are
skipped, so re-running the same command resumes a killed sweep. --smoke runs a tiny
version (one seed, one gamma and c, a data subset, few epochs) that skips datasets whose
files are missing; a full run refuses to start if any dataset is missing.
"""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from robustloss.errors import as_user_errors, cli
from robustloss.experiments.config import sweep_block
from robustloss.experiments.sweeps import pending_jobs
from robustloss.records import check_writable

TABLES = ("table1", "table3", "table4", "table5", "noise_kinds")
# the sweeps behind the figures: 3-4 (CL grids), 2 and 7 (dynamics), 5 (delays), 6 (AUM)
FIGURE_SWEEPS = ("fig_grid", "fig2", "fig5", "table5")


def check_datasets(names: list[str], overrides: list[str]) -> dict[str, str]:
    """dataset -> why it cannot be read (missing files, bad checksums); empty when all load.
    ``dataset.<key>=<value>`` overrides (root, labels_path, verify, ...) are honoured."""
    from robustloss import data

    params = {key.split(".", 1)[1]: yaml.safe_load(value) for key, value in
              (o.lstrip("+").split("=", 1) for o in overrides if o.lstrip("+").startswith("dataset."))}
    root = params.pop("root", None)
    params.pop("subset", None)
    problems = {}
    for name in names:
        with as_user_errors():  # an unknown name: one line listing the valid ones
            accepted = inspect.signature(data.DATASETS.get(name)).parameters
        try:
            data.load(name, root, **{k: v for k, v in params.items() if k in accepted})
        except (FileNotFoundError, RuntimeError, ValueError) as err:
            problems[name] = str(err).splitlines()[0]
    return problems


def family_commands(table: str, sweep, args, datasets: list[str], results: str) -> list[list[str]]:
    seeds = args.seeds or sweep.seeds
    rates = args.rates or ",".join(map(str, sweep.rates))
    commands = []
    for family in sweep.families.values():
        grid = dict(family)
        if args.smoke:
            grid.update({k: v for k, v in sweep.smoke.grids.items() if k in grid})
        if args.gammas and "loss.gamma" in grid:
            grid["loss.gamma"] = args.gammas.split(",")
        if args.cs and "loss.c" in grid:
            grid["loss.c"] = args.cs.split(",")
        cmd = [sys.executable, "-m", "robustloss.run", "-m", f"experiment={table}",
               f"launcher={args.launcher}", f"dataset={','.join(datasets)}",
               f"seed=range(0,{seeds})", f"results_dir={results}", "progress=false"]
        if rates:
            cmd.append(f"noise.rate={rates}")
        kinds = args.kinds or ",".join(sweep.get("kinds") or [])
        if kinds:
            cmd.append(f"noise={kinds}")
        detectors = args.detectors or ",".join(sweep.get("detectors") or [])
        if detectors:
            cmd.append(f"detector={detectors}")
        cmd += [f"{key}={','.join(map(str, values))}" for key, values in grid.items()]
        if args.smoke:
            cmd += list(sweep.smoke.overrides)
        commands.append(cmd + args.overrides)
    return commands


def run_sweeps(table: str, args, results: str) -> list[int]:
    """Check the data, then launch the loss families of conf/experiment/<table>.yaml whose
    records are missing; returns their exit codes ([2] when the data check fails)."""
    sweep = sweep_block(table)
    if args.smoke:
        sweep.seeds, sweep.rates = sweep.smoke.seeds, sweep.smoke.rates
    datasets = args.datasets.split(",") if args.datasets else list(
        sweep.smoke.datasets if args.smoke else sweep.datasets)
    problems = check_datasets(datasets, args.overrides)
    for name, why in problems.items():
        print(f"{'skipping' if args.smoke else 'cannot read'} {name}: {why}", file=sys.stderr)
    if problems and not args.smoke:
        print("fix the data folder (ROBUSTLOSS_DATA or dataset.root=...) and re-run; "
              "nothing was started", file=sys.stderr)
        return [2]
    datasets = [d for d in datasets if d not in problems]
    if not datasets:
        print("no dataset available: nothing to run", file=sys.stderr)
        return [2]
    commands = []
    for cmd in family_commands(table, sweep, args, datasets, results):
        pending = len(pending_jobs(cmd[4:]))  # what follows `robustloss.run -m`
        family = next(c for c in cmd if c.startswith("loss="))
        print(f"{table} {family}: {pending} experiment(s) without a record", flush=True)
        if pending:  # a family whose records all exist is not launched (no SLURM array at all)
            commands.append(cmd)

    def run(cmd: list[str]) -> int:
        print("+", " ".join(cmd[1:]), flush=True)
        return subprocess.call(cmd)

    # locally one multirun after another; on SLURM all job arrays are submitted at once
    workers = len(commands) if args.launcher == "slurm" else 1
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        return list(pool.map(run, commands))


@cli
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="robustloss reproduce", description=__doc__.split("\n\n")[0])
    parser.add_argument("table", choices=(*TABLES, "figures", "rows"),
                        help="a table, figures (the sweeps behind the paper's figures), or rows "
                             "(whole Table 1 rows over a few seeds, planned from the paper's table)")
    parser.add_argument("--launcher", choices=("parallel", "local", "slurm"), default="parallel",
                        help="parallel: side by side on this machine (default); local: one "
                             "after another; slurm: job arrays")
    parser.add_argument("--datasets", help="comma list (default: the table's)")
    parser.add_argument("--seeds", type=int, help="number of seeds, 0..N-1 (default: the paper's)")
    parser.add_argument("--rates", help="comma list of eta (default: 0.1,0.2,0.3,0.4)")
    parser.add_argument("--kinds", help="comma list of noise kinds (noise_kinds; default: the sweep's)")
    parser.add_argument("--detectors", help="comma list of detectors (default: the sweep's)")
    parser.add_argument("--gammas", help="comma list: BL gamma grid")
    parser.add_argument("--cs", help="comma list: PZ c grid")
    parser.add_argument("--smoke", action="store_true", help="a tiny run that checks the chain")
    parser.add_argument("--settings", choices=("table1", "table2"), default="table1",
                        help="rows: Table 1's best gamma / c and baselines (default), or Table 2's "
                             "own gamma / c for BL and PZ")
    parser.add_argument("--list", action="store_true",
                        help="rows: list the plan, done and missing, and run nothing")
    parser.add_argument("--results", help="records folder (default: results/<table>[_smoke])")
    argv = sys.argv[1:] if argv is None else list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.overrides = argv[split + 1:]  # extra Hydra overrides, after --

    default = "results/paper" if args.table == "rows" else f"results/{args.table}"
    results = args.results or f"{default}{'_smoke' if args.smoke else ''}"
    with as_user_errors():
        check_writable(results)  # once, before any sweep is launched
    start = time.perf_counter()
    if args.table == "rows":
        from robustloss.cli.reproduce_rows import run_rows

        code = run_rows(args, results)
        if args.list:
            return code
        return max(code, subprocess.call([sys.executable, "-m", "robustloss.cli", "tables",
                                          results, "--paper"], stdout=subprocess.DEVNULL))
    if args.table == "figures":
        codes = [c for sweep in FIGURE_SWEEPS for c in run_sweeps(sweep, args, results)]
        print(f"\nsweeps finished in {time.perf_counter() - start:.1f} s; exit codes {codes}")
        drawn = subprocess.call([sys.executable, "-m", "robustloss.cli", "figures", results])
        print(f"figures written in {time.perf_counter() - start:.1f} s")
        return max(codes + [drawn])
    codes = run_sweeps(args.table, args, results)
    if codes == [2]:
        return 2
    print(f"\nsweeps finished in {time.perf_counter() - start:.1f} s; exit codes {codes}")
    table_code = subprocess.call([sys.executable, "-m", "robustloss.cli", "tables", results, "--paper"])
    return max(codes + [table_code])


if __name__ == "__main__":
    sys.exit(main())
