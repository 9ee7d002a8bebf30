"""How close the automatic gamma / c of find-issues come to the best grid value in
hindsight, with find-issues' own training (robustloss.find.core), on data with planted
noise: for each dataset, eta and seed, one cross-entropy pass (-> cleanlab's noise estimate
-> automatic value), then one pass per grid value and one at the automatic value; F1 of
the flagged set against the planted errors. Reports, per dataset and eta, the seed-mean F1
of the automatic choice, of the best grid value (chosen in hindsight on the seed means) and
the gap. Passes are cached in <out>/passes.jsonl, so a killed run resumes.

    ROBUSTLOSS_DATA=../shared/data python scripts/auto_parameter_check.py \\
        [--datasets digits,mnist,fashion_mnist] [--subset 1000] [--seeds 0,1] [--out results/auto_check]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from robustloss.components.noise import corrupt_labels
from robustloss.data import load
from robustloss.detection.detect import confident_learning
from robustloss.detection.metrics import detection_scores
from robustloss.experiments.provenance import resolve_device
from robustloss.find.choose import PARAMETER_OF, estimate_noise_rate
from robustloss.find.core import FindSettings, model_for, out_of_fold
from robustloss.find.inputs import UserData

GRIDS = {"blurry": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],      # paper's gamma range
         "piecewise_zero": [0.005, 0.01, 0.02, 0.04, 0.06, 0.1]}   # paper's c values


def planted(dataset: str, subset: int | None, rate: float, seed: int):
    full = load(dataset)
    data = full.subset(subset, seed=seed) if subset and subset < len(full) else full
    noisy, corrupted = corrupt_labels(data.labels, data.num_classes, rate, seed)
    user = UserData(data.images, noisy, [str(k) for k in range(data.num_classes)],
                    [str(i) for i in range(len(noisy))], dataset, "images")
    return user, corrupted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits,mnist,fashion_mnist")
    parser.add_argument("--subset", type=int, default=1000, help="samples of the larger datasets")
    parser.add_argument("--rates", default="0.1,0.2,0.3,0.4")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--losses", default="blurry,piecewise_zero")
    parser.add_argument("--out", default="results/auto_check")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "passes.jsonl"
    done = {}
    if cache_path.exists():
        for line in cache_path.read_text().splitlines():
            row = json.loads(line)
            done[row["key"]] = row
    device = resolve_device("auto")
    for dataset in args.datasets.split(","):
        subset = None if dataset == "digits" else args.subset
        for rate in map(float, args.rates.split(",")):
            for seed in map(int, args.seeds.split(",")):
                case = Case(dataset, subset, rate, seed, *planted(dataset, subset, rate, seed))
                ce = measure(case, "ce", {}, done, cache_path, device)
                for loss in args.losses.split(","):
                    name = PARAMETER_OF[loss]
                    for value in GRIDS[loss]:
                        measure(case, loss, {name: value}, done, cache_path, device)
                    auto = FindSettings(loss=loss, seed=seed).loss_params(ce["eta_hat"])
                    row = measure(case, loss, auto, done, cache_path, device)
                    done[f"auto {dataset} {rate} {seed} {loss}"] = {**row, "auto": True,
                                                                     "eta_hat": ce["eta_hat"]}
    summarise(done, out)


@dataclass
class Case:
    dataset: str
    subset: int | None
    rate: float
    seed: int
    data: UserData
    corrupted: np.ndarray


def measure(case: Case, loss: str, params: dict, done: dict, cache_path: Path, device) -> dict:
    """F1 of one cross-validated pass (from the cache when it ran before); a cross-entropy
    pass also records cleanlab's noise estimate."""
    key = json.dumps([case.dataset, case.subset, case.rate, case.seed, loss, params], sort_keys=True)
    if key in done:
        return done[key]
    start = time.perf_counter()
    settings = FindSettings(seed=case.seed)
    probs = out_of_fold(case.data, settings, loss, params, model_for(case.data), device, False)
    scores = detection_scores(confident_learning(case.data.labels, probs), case.corrupted)
    row = {"key": key, "dataset": case.dataset, "subset": case.subset, "rate": case.rate,
           "seed": case.seed, "loss": loss, "params": params, "f1": scores["f1"],
           "seconds": time.perf_counter() - start}
    if loss == "ce":
        row["eta_hat"] = estimate_noise_rate(case.data.labels, probs)
    with cache_path.open("a") as handle:
        handle.write(json.dumps(row) + "\n")
    done[key] = row
    print(f"{case.dataset} eta={case.rate} seed={case.seed} {loss} {params}: F1 {row['f1']:.4f} "
          f"({row['seconds']:.0f} s)", flush=True)
    return row


def summarise(done: dict, out: Path) -> None:
    rows = pd.DataFrame([r for r in done.values() if r["loss"] != "ce"])
    rows["auto"] = rows.get("auto", False).fillna(False).astype(bool)
    rows["value"] = rows.params.map(lambda p: next(iter(p.values())))
    lines = []
    for (dataset, rate, loss), group in rows.groupby(["dataset", "rate", "loss"]):
        on_grid = ~group.auto & group.value.isin(GRIDS[loss])  # auto values off the grid left out
        grid = group[on_grid].groupby("value").f1.mean()
        auto = group[group.auto]
        if auto.empty:  # cached passes of a case this run did not ask for
            continue
        lines.append({
            "dataset": dataset, "eta": rate, "loss": loss, "seeds": auto.seed.nunique(),
            "eta_hat": auto.eta_hat.mean(), "auto value": auto.value.mean(),
            "auto F1": auto.f1.mean(), "best grid value": grid.idxmax(), "best grid F1": grid.max(),
            "gap": grid.max() - auto.f1.mean()})
    table = pd.DataFrame(lines)
    table.to_csv(out / "auto_vs_best.csv", index=False)
    text = table.to_markdown(index=False, floatfmt=".4f")
    (out / "auto_vs_best.md").write_text(text + "\n\nmean gap per loss:\n"
                                         + table.groupby("loss").gap.mean().to_string() + "\n")
    print(text)
    print("mean gap per loss:", table.groupby("loss").gap.mean().round(4).to_dict())


if __name__ == "__main__":
    main()
