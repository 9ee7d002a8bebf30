"""How noise_structure's cap on gamma (robustloss.find.choose.LARGEST) plays out on cached
passes, without a new pass: for each case of an auto_parameter_check cache (dataset, kind,
eta), the seed-mean F1 of the paper's relation, of the structure rule under each cap and of
the confusion gate (where the cached cross-entropy rows carry the unsure share), against
the best grid value (over the gamma values every seed of the case has). A rule's value
counts only where a pass at exactly that value is cached (a capped value is a grid value,
an uncapped one the rule's own pass); with --interpolate, between the two nearest passes
of that seed (linear in gamma: an estimate for choosing what to run, not a measurement).
--shut-slopes adds confusion_cap with a steeper raise where the gate is shut. Mean gaps
per dataset and noise kind.

    python scripts/structure_cap_check.py [--cache results/auto_check_subsets/passes.jsonl,...] \\
        [--caps 0.6,0.7,0.8] [--shut-slopes 4] [--interpolate]
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from auto_parameter_check import GRIDS, read_cache

from robustloss.find import choose


def cases(rows: list[dict]) -> dict:
    """(dataset, kind, eta) -> seed -> {"ce": CE row, "f1": {gamma: F1}} (grid passes only;
    not the passes retrained with another seed than the noise's, pass_noise_check's)."""
    out = defaultdict(lambda: defaultdict(lambda: {"ce": None, "f1": {}}))
    for row in rows:
        if (row.get("auto") or row.get("protocol", "paper") != "paper"
                or row.get("train_seed", row["seed"]) != row["seed"]):
            continue
        seed = out[(row["dataset"], row.get("kind", "symmetric"), row["rate"])][row["seed"]]
        if row["loss"] == "ce":
            seed["ce"] = row
        elif row["loss"] == "blurry":
            seed["f1"][round(row["params"]["gamma"], 4)] = row["f1"]
    return out


def shut_slope_rule(slope: float):
    """confusion_cap, with gamma >= slope x flip (not 3 x) wherever the gate is shut:
    confusion_spread without its ratio guard."""
    return lambda noise: choose.parameter_for_confusion_spread("blurry", noise, slope=slope,
                                                                ratio=math.inf)


def f1_at(f1: dict, gamma: float, interpolate: bool = False) -> float:
    """F1 of the pass at ``gamma``; with ``interpolate``, linear between the nearest passes
    either side where there is none (NaN outside the passes' range, or without one)."""
    if gamma in f1 or not interpolate or not f1:
        return f1.get(gamma, np.nan)
    values = sorted(f1)
    if not values[0] <= gamma <= values[-1]:
        return np.nan
    return float(np.interp(gamma, values, [f1[v] for v in values]))


def gaps(rows: list[dict], caps: list[float], shut_slopes: tuple[float, ...] = (),
         interpolate: bool = False) -> dict:
    """rule -> (dataset, kind, eta) -> (mean gamma, mean F1, gap to the best grid value)."""
    rules = {"noise_estimate": lambda n: choose.parameter_for_noise("blurry", n.rate)}
    rules |= {f"noise_structure, cap {c}":
              (lambda n, c=c: choose.parameter_for_structure("blurry", n, largest=c)) for c in caps}
    rules |= {name: (lambda n, rule=rule: rule("blurry", n))
              for name, rule in choose.RULES_ON_READINGS.items() if name.startswith("confusion")}
    rules |= {f"confusion_cap, {s:g} x flip where shut": shut_slope_rule(s) for s in shut_slopes}
    out = defaultdict(dict)
    for case, seeds in sorted(cases(rows).items()):
        seeds = {s: v for s, v in seeds.items() if v["ce"] is not None}
        common = set.intersection(*(set(v["f1"]) for v in seeds.values())) if seeds else set()
        grid = {g: np.mean([v["f1"][g] for v in seeds.values()]) for g in common
                if g in GRIDS["blurry"]}
        if not grid:
            continue
        for name, rule in rules.items():
            if name.startswith("confusion") and any("unsure" not in v["ce"] for v in seeds.values()):
                continue  # cross-entropy rows cached before the unsure share was read
            values = {s: round(rule(choose.NoiseEstimate(v["ce"]["eta_hat"], v["ce"]["flip"],
                                                         v["ce"].get("unsure", 0.0))), 4)
                      for s, v in seeds.items()}
            f1 = np.mean([f1_at(seeds[s]["f1"], g, interpolate) for s, g in values.items()])
            out[name][case] = (np.mean(list(values.values())), f1, max(grid.values()) - f1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="results/auto_check_subsets/passes.jsonl",
                        help="one or more passes.jsonl files, comma-separated")
    parser.add_argument("--caps", default="0.6,0.7,0.8")
    parser.add_argument("--shut-slopes", default="", help="e.g. 4,5")
    parser.add_argument("--interpolate", action="store_true")
    args = parser.parse_args()
    rows = [row for path in args.cache.split(",") for row in read_cache(Path(path)).values()]
    table = gaps(rows, [float(c) for c in args.caps.split(",")],
                 tuple(float(s) for s in args.shut_slopes.split(",") if s), args.interpolate)
    for name, per_case in table.items():
        print(name)
        for (dataset, kind, eta), (gamma, f1, gap) in per_case.items():
            print(f"  {dataset} {kind} {eta}: gamma {gamma:.2f}, F1 {f1:.3f}, gap {gap:.3f}")
        means = defaultdict(list)
        for (dataset, kind, _), (_, _, gap) in per_case.items():
            means[f"{dataset} {kind}"].append(gap)
        print("  mean gap: " + ", ".join(f"{cell} {np.nanmean(g):.3f} ({np.isfinite(g).sum()})"
                                        for cell, g in means.items()))


if __name__ == "__main__":
    main()
