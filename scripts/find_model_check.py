"""What a stronger model adds to find-issues' detection: more epochs, augmentation, two
models per fold, a twice as wide network, alone and together, against the paper's
protocol, on data with synthetic noise of each kind. For each dataset, kind, eta, seed and variant, one
``find_label_issues`` run (Blurry Loss, gamma from the noise estimate, cross-entropy from
the same run's comparison); F1 of each loss's flagged set against the synthetic errors,
and the run's seconds. Rows are cached in <out>/runs.jsonl, so a killed run resumes.

    ROBUSTLOSS_DATA=../shared/data python scripts/find_model_check.py \\
        [--datasets digits,mnist] [--subset 5000] [--seeds 0,1,2] \\
        [--kinds symmetric,asymmetric] [--variants paper,crop_epochs20]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from robustloss.detection.metrics import detection_scores
from robustloss.find.core import find_label_issues

# name -> FindSettings overrides; crop_epochs20 is the "strong" protocol find-issues
# defaults to (chosen on digits with this script: README "A stronger model"). Every variant
# chooses gamma from the noise estimate, the default when the first rows were measured, so
# cached rows and new variants compare models, not rules.
RULE = {"protocol": "paper", "auto_by": "noise_estimate"}
VARIANTS = {
    "paper": {**RULE},
    "epochs20": {**RULE, "epochs": 20},
    "crop": {**RULE, "augment": "crop"},
    "members2": {**RULE, "members": 2},
    "crop_epochs20": {**RULE, "augment": "crop", "epochs": 20},
    "crop_epochs20_members2": {**RULE, "augment": "crop", "epochs": 20, "members": 2},
    "crop_epochs20_wide2": {**RULE, "augment": "crop", "epochs": 20, "width": 2},
}


def main() -> None:
    from auto_parameter_check import PassCache, planted

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits")
    parser.add_argument("--subset", type=int, default=5000, help="samples of the larger datasets")
    parser.add_argument("--rates", default="0.2")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--kinds", default="symmetric,asymmetric")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", default="results/find_model_check")
    args = parser.parse_args()
    out = Path(args.out)
    runs = PassCache.open(out / "runs.jsonl")
    cases = itertools.product(args.datasets.split(","), args.kinds.split(","),
                              map(float, args.rates.split(",")), map(int, args.seeds.split(",")))
    for dataset, kind, rate, seed in cases:
        subset = None if dataset == "digits" else args.subset
        data, corrupted = planted(dataset, subset, rate, seed, kind)
        for variant in args.variants.split(","):
            key = json.dumps([dataset, subset, kind, rate, seed, variant])
            if key not in runs.rows:
                row = {"key": key, "dataset": dataset, "subset": subset, "kind": kind,
                       "rate": rate, "seed": seed, "variant": variant,
                       **run_variant(data, corrupted, seed, VARIANTS[variant])}
                print(json.dumps(row), flush=True)
                runs.store(row)
    summarise(pd.DataFrame(runs.rows.values()), out)


def run_variant(data, corrupted: np.ndarray, seed: int, overrides: dict) -> dict:
    """One find_label_issues run: the model, gamma, noise estimate, seconds, and the F1 of
    Blurry Loss's and cross-entropy's flagged sets against the synthetic errors."""
    start = time.perf_counter()
    table = find_label_issues(data, progress=False, seed=seed, **overrides)
    in_input_order = table.sort_values("index")
    return {"model": table.attrs["model"], "gamma": table.attrs["loss_params"].get("gamma"),
            "eta_hat": table.attrs["estimated_noise_rate"],
            "seconds": time.perf_counter() - start,
            **{f"f1_{loss}": detection_scores(in_input_order[column].to_numpy(), corrupted)["f1"]
               for loss, column in (("blurry", "flagged"), ("ce", "flagged_ce"))}}


def summarise(rows: pd.DataFrame, out: Path) -> None:
    """Seed means per dataset, kind, eta and variant; and each variant's gain and cost over
    the base: paper where it ran, else the first variant measured (runs of one folder ran
    on one machine, so cost is a ratio measured there)."""
    keys = ["dataset", "kind", "rate", "variant"]
    table = rows.groupby(keys, sort=False).agg(
        f1_blurry=("f1_blurry", "mean"), f1_ce=("f1_ce", "mean"), seconds=("seconds", "mean"),
        seeds=("seed", "nunique")).reset_index()
    base_name = "paper" if (table.variant == "paper").any() else table.variant.iloc[0]
    base = table[table.variant == base_name].set_index(keys[:-1])
    cases = pd.MultiIndex.from_frame(table[keys[:-1]])
    for loss in ("blurry", "ce"):
        table[f"gain_{loss}"] = (table[f"f1_{loss}"].to_numpy()
                                 - base[f"f1_{loss}"].reindex(cases).to_numpy())
    table["cost"] = table.seconds / base.seconds.reindex(cases).to_numpy()
    text = (f"gain and cost against {base_name}\n\n"
            + table.to_markdown(index=False, floatfmt=".3f"))
    print(text)
    (out / "summary.md").write_text(text + "\n")
    table.to_csv(out / "summary.csv", index=False)


if __name__ == "__main__":
    main()
