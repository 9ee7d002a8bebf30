"""The paper's question per noise kind, from the records of a noise-kinds sweep: paired F1
differences of Blurry and Piecewise-zero Loss against CE and the best other baseline (same
kind, eta and seed), the best gamma / c per kind, and whether AUM and Confident Learning agree.

    python scripts/noise_kinds_summary.py RESULTS_DIR [--gamma 0.4] [--c 0.05] [--out summary.md]

Differences: mean over (eta, seed) pairs ± standard error of that mean; BL and PZ at a fixed
gamma / c chosen before looking (the paper's mid-grid values), and at the best value in
hindsight per kind (best mean F1 over the kind's eta and seeds), which flatters them.
"""

from __future__ import annotations

import argparse
import math
import sys

import pandas as pd

from robustloss.records import find_records, noise_kind

BASELINES = ("ce", "focal", "gce", "anl_ce", "anl_fl")
KINDS = ("symmetric", "asymmetric", "pairflip", "instance")


def frame(results: str) -> pd.DataFrame:
    rows = []
    for r in find_records(results):
        s, params = r["settings"], r["settings"]["loss"]["params"]
        rows.append({"dataset": s["dataset"]["name"] + (f" (n={s['dataset']['subset']})"
                                                        if s["dataset"].get("subset") else ""),
                     "detector": s["detector"]["name"], "kind": noise_kind(r),
                     "eta": s["noise"]["rate"], "realised": r["noise"]["rate_realised"],
                     "seed": s["seed"], "loss": s["loss"]["name"],
                     "param": params.get("gamma", params.get("c")), "f1": r["metrics"]["f1"]})
    return pd.DataFrame(rows)


def paired(a: pd.Series, b: pd.Series) -> str:
    """mean ± s.e. of a - b over their common (eta, seed) index, and the count."""
    diff = (a - b).dropna()
    if diff.empty:
        return "–"
    se = diff.std(ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else float("nan")
    return f"{diff.mean():+.3f} ± {se:.3f} (n={len(diff)})"


def series(part: pd.DataFrame, loss: str, param=None) -> pd.Series:
    chosen = part[part["loss"] == loss]
    if param is not None:
        chosen = chosen[(chosen["param"] - param).abs() < 1e-9]
    return chosen.set_index(["eta", "seed"])["f1"]


def best_param(part: pd.DataFrame, loss: str):
    chosen = part[part["loss"] == loss]
    return None if chosen.empty else chosen.groupby("param")["f1"].mean().idxmax()


def summarise(data: pd.DataFrame, gamma: float, c: float) -> str:
    lines = []
    for (dataset, detector), block in data.groupby(["dataset", "detector"]):
        lines += [f"### {dataset}, {detector}", "",
                  f"| kind | realised rate | CE | best other baseline | BL γ={gamma:g} − CE | "
                  f"PZ c={c:g} − CE | BL γ={gamma:g} − best baseline | best γ (BL − CE) | "
                  "best c (PZ − CE) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for kind in [k for k in KINDS if k in set(block["kind"])]:
            part = block[block["kind"] == kind]
            ce = series(part, "ce")
            means = {b: series(part, b).mean() for b in BASELINES[1:] if not series(part, b).empty}
            best = max(means, key=means.get) if means else None
            bl, pz = series(part, "blurry", gamma), series(part, "piecewise_zero", c)
            g, cc = best_param(part, "blurry"), best_param(part, "piecewise_zero")
            realised = ", ".join(f"{r:.2f}" for r in part.groupby("eta")["realised"].mean())
            lines.append(
                f"| {kind} | {realised} | {ce.mean():.3f} | "
                + (f"{best} {means[best]:.3f}" if best else "–") + " | "
                f"{paired(bl, ce)} | {paired(pz, ce)} | "
                + (paired(bl, series(part, best)) if best else "–") + " | "
                + (f"γ={g:g}: {paired(series(part, 'blurry', g), ce)}" if g is not None else "–") + " | "
                + (f"c={cc:g}: {paired(series(part, 'piecewise_zero', cc), ce)}" if cc is not None else "–")
                + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results")
    parser.add_argument("--gamma", type=float, default=0.4)
    parser.add_argument("--c", type=float, default=0.05)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    data = frame(args.results)
    if data.empty:
        print(f"no records under {args.results}", file=sys.stderr)
        return 2
    text = summarise(data, args.gamma, args.c)
    print(text)
    if args.out:
        with open(args.out, "w") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
