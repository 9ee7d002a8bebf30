"""Does the automatic gamma beat the paper's fixed gamma 0.4 by more than twice the measured
pass noise? The numbers behind robustloss.find.choose (studies/README.md, "One automatic
rule"), recomputed from the passes in studies/measurements/ without a new pass.

For every case (dataset, noise kind, eta, seed) whose cross-entropy pass and Blurry Loss
passes are recorded (paper protocol; passes retrained with another seed than the noise's
left out), the rule's value is read off the cross-entropy pass and scored by the recorded
pass at exactly that value; a cell is (dataset, kind, eta), its number the seed mean of
rule minus fixed over the seeds that have both. Rules: ``noise_structure`` (the kept one,
choose_parameter) and ``paper_relation`` (the paper's value at the estimated rate alone).

    python studies/auto_rule_decision.py [--fixed 0.4] [--threshold 0.054]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from robustloss.find.choose import NoiseEstimate, choose_parameter, parameter_for_noise

MEASUREMENTS = Path(__file__).resolve().parent / "measurements"
# the files with one row per pass (the others summarise)
PASS_FILES = ("auto_check_digits.csv", "class_dependent_subsets.csv", "instance_subsets_gate.csv",
              "symmetric_subsets_gate.csv", "confusion_gate_heldout.csv")
RULES = {"noise_structure": lambda n: choose_parameter("blurry", n).value,
         "paper_relation": lambda n: parameter_for_noise("blurry", n.rate)}


def passes() -> pd.DataFrame:
    """Every recorded grid or rule pass once (the last record of a repeated one)."""
    rows = pd.concat([pd.read_csv(MEASUREMENTS / name) for name in PASS_FILES], ignore_index=True)
    rows = rows[rows.get("auto", pd.Series(np.nan, rows.index)).isna()
                & (rows.protocol.fillna("paper") == "paper")
                & (rows.train_seed.isna() | (rows.train_seed == rows.seed))]
    rows = rows.assign(gamma=rows.gamma.round(4))
    return rows.drop_duplicates(["dataset", "kind", "rate", "seed", "loss", "gamma"], keep="last")


def cases(rows: pd.DataFrame, fixed: float) -> pd.DataFrame:
    """One row per case: F1 at ``fixed`` and at each rule's value (NaN where not recorded)."""
    out = []
    for (dataset, kind, rate, seed), group in rows.groupby(["dataset", "kind", "rate", "seed"]):
        ce = group[group.loss == "ce"]
        if ce.empty:
            continue
        noise = NoiseEstimate(ce.eta_hat.iloc[-1], ce.flip.iloc[-1])
        f1 = dict(zip(group[group.loss == "blurry"].gamma, group[group.loss == "blurry"].f1,
                      strict=True))
        out.append({"dataset": dataset, "kind": kind, "eta": rate, "seed": seed,
                    "fixed": f1.get(fixed, np.nan)}
                   | {name: f1.get(round(rule(noise), 4), np.nan) for name, rule in RULES.items()})
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixed", type=float, default=0.4, help="the fixed gamma to beat")
    parser.add_argument("--threshold", type=float, default=0.054,
                        help="twice the largest measured pass-to-pass sd (2 x 0.027)")
    args = parser.parse_args()
    table = cases(passes(), args.fixed)
    cells = {}
    for name in RULES:
        gain = (table[name] - table.fixed).rename("gain")
        cells[name] = table.assign(gain=gain).dropna(subset=["gain"]).groupby(
            ["dataset", "kind", "eta"]).gain.agg(["mean", "count"])
    both = pd.DataFrame({name: cell.apply(lambda r: f"{r['mean']:+.3f} ({int(r['count'])})", axis=1)
                         for name, cell in cells.items()})
    print(f"F1 of each rule minus F1 at gamma {args.fixed}, seed mean per cell (seeds):\n")
    print(both.fillna("-").to_markdown())
    for name, cell in cells.items():
        wins = cell[cell["mean"] > args.threshold]
        losses = cell[cell["mean"] < -args.threshold]
        datasets = sorted(set(wins.index.get_level_values("dataset")))
        print(f"\n{name}: beats gamma {args.fixed} by more than {args.threshold} in "
              f"{len(wins)} cells on {datasets or 'no dataset'}; loses by more in {len(losses)}; "
              f"worst cell {cell['mean'].min():+.3f}; passes the rule: {len(datasets) >= 2}")


if __name__ == "__main__":
    main()
