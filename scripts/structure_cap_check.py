"""How noise_structure's cap on gamma (robustloss.find.choose.LARGEST) plays out on cached
passes, without a new pass: for each case of an auto_parameter_check cache (dataset, kind,
eta), the seed-mean F1 of the paper's relation, of the structure rule under each cap and of
the confusion gate (where the cached cross-entropy rows carry the unsure share), against
the best grid value (over the gamma values every seed of the case has). A rule's value
counts only where a pass at exactly that value is cached (a capped value is a grid value,
an uncapped one the rule's own pass); the mean gap per dataset is over the class-dependent
cases.

    python scripts/structure_cap_check.py [--cache results/auto_check_subsets/passes.jsonl] \\
        [--caps 0.6,0.7,0.8]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import numpy as np
from auto_parameter_check import GRIDS, read_cache

from robustloss.find import choose


def cases(rows: list[dict]) -> dict:
    """(dataset, kind, eta) -> seed -> {"ce": CE row, "f1": {gamma: F1}} (grid passes only)."""
    out = defaultdict(lambda: defaultdict(lambda: {"ce": None, "f1": {}}))
    for row in rows:
        if row.get("auto") or row.get("protocol", "paper") != "paper":
            continue
        seed = out[(row["dataset"], row.get("kind", "symmetric"), row["rate"])][row["seed"]]
        if row["loss"] == "ce":
            seed["ce"] = row
        elif row["loss"] == "blurry":
            seed["f1"][round(row["params"]["gamma"], 4)] = row["f1"]
    return out


def gaps(rows: list[dict], caps: list[float]) -> dict:
    """rule -> (dataset, kind, eta) -> (mean gamma, mean F1, gap to the best grid value)."""
    rules = {"noise_estimate": lambda n: choose.parameter_for_noise("blurry", n.rate)}
    rules |= {f"noise_structure, cap {c}":
              (lambda n, c=c: choose.parameter_for_structure("blurry", n, largest=c)) for c in caps}
    rules["confusion_gate"] = lambda n: choose.parameter_for_confusion("blurry", n)
    rules["confusion_cap"] = lambda n: choose.parameter_for_confusion_cap("blurry", n)
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
            f1 = np.mean([seeds[s]["f1"].get(g, np.nan) for s, g in values.items()])
            out[name][case] = (np.mean(list(values.values())), f1, max(grid.values()) - f1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="results/auto_check_subsets/passes.jsonl")
    parser.add_argument("--caps", default="0.6,0.7,0.8")
    args = parser.parse_args()
    table = gaps(list(read_cache(Path(args.cache)).values()),
                 [float(c) for c in args.caps.split(",")])
    for name, per_case in table.items():
        print(name)
        for (dataset, kind, eta), (gamma, f1, gap) in per_case.items():
            print(f"  {dataset} {kind} {eta}: gamma {gamma:.2f}, F1 {f1:.3f}, gap {gap:.3f}")
        means = defaultdict(list)
        for (dataset, kind, _), (_, _, gap) in per_case.items():
            if kind == "asymmetric":
                means[dataset].append(gap)
        print("  mean gap, class-dependent: "
              + ", ".join(f"{d} {np.mean(g):.3f}" for d, g in means.items()))


if __name__ == "__main__":
    main()
