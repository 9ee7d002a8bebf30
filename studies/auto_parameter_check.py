"""How close find-issues' automatic gamma / c comes to the best grid value in hindsight, with
find-issues' own training (robustloss.find.core), on data with synthetic noise of each kind:
for each dataset, kind, eta and seed, one cross-entropy pass, one pass per grid value and
one at the automatic value (robustloss.find.choose.choose_parameter, read off that
cross-entropy pass); F1 of the flagged set against the synthetic errors. Reports, per
dataset, kind and eta, the seed-mean F1 of the automatic value and of the best grid value
(chosen in hindsight on the seed means) and the gap. Passes are cached in
<out>/passes.jsonl, so a killed run resumes (``--cached-only`` summarises the cache without
running a pass); <out>/passes.csv lists them, one row each.

    ROBUSTLOSS_DATA=../shared/data python studies/auto_parameter_check.py \\
        [--datasets digits,mnist,fashion_mnist] [--subset 5000] [--seeds 0,1] \\
        [--kinds symmetric,asymmetric,instance] [--out results/auto_check]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from robustloss.components.noise import corrupt
from robustloss.data import load
from robustloss.detection.detect import confident_learning
from robustloss.detection.metrics import detection_scores
from robustloss.experiments.provenance import resolve_device
from robustloss.find.choose import PARAMETER_OF, NoiseEstimate, choose_parameter, estimate_noise
from robustloss.find.core import FindSettings, model_for, out_of_fold
from robustloss.find.inputs import UserData

GRIDS = {"blurry": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],      # paper's gamma range
         "piecewise_zero": [0.005, 0.01, 0.02, 0.04, 0.06, 0.1]}   # paper's c values


# how the summary labels the automatic value's rows (rows of the rules deleted since, cached
# under their own names, are left out of it)
AUTO = "noise_structure"


def subset_used(dataset: str, subset: int | None) -> int | None:
    """The subset a case runs on as cache keys name it: None when it covers the dataset."""
    return subset if subset and subset < len(load(dataset)) else None


def ce_pass_name(dataset: str, kind: str, rate: float, seed: int, subset: int | None,
                 protocol: str = "paper", train_seed: int | None = None) -> str:
    """The file a case's cross-entropy probabilities are kept in (train_seed: that of a
    pass retrained with another seed than the noise's)."""
    return (f"{dataset}_{kind}_{rate}_{seed}" + (f"_{subset}" if subset else "")
            + (f"_{protocol}" if protocol != "paper" else "")
            + (f"_train{train_seed}" if train_seed is not None else "") + ".npz")


def planted(dataset: str, subset: int | None, rate: float, seed: int, kind: str = "symmetric"):
    full = load(dataset)
    subset = subset_used(dataset, subset)
    data = full.subset(subset, seed=seed) if subset else full
    noisy, corrupted = corrupt(kind, data.labels, data.num_classes, rate, seed,
                               dataset=dataset, images=data.images)
    user = UserData(data.images, noisy, [str(k) for k in range(data.num_classes)],
                    [str(i) for i in range(len(noisy))], dataset, "images")
    return user, corrupted


def read_cache(path: Path) -> dict:
    """key -> row of a jsonl cache (an empty dict when absent; creates its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {row["key"]: row for row in rows}


@dataclass
class PassCache:
    """The passes a check has run: ``rows`` (key -> row) read from and appended to ``path``
    (a jsonl file, one row a line), so a killed run resumes; new passes train on ``device``,
    or, without ``run_missing``, are left out."""

    path: Path
    rows: dict
    device: object = "cpu"
    run_missing: bool = True

    @classmethod
    def open(cls, path: Path, device: str = "auto", run_missing: bool = True) -> PassCache:
        return cls(path, read_cache(path), resolve_device(device), run_missing)

    def store(self, row: dict) -> dict:
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        self.rows[row["key"]] = row
        return row

    def kept(self, case: Case) -> Path:
        """The file ``case``'s cross-entropy probabilities are kept in."""
        return self.path.parent / "ce_passes" / case.kept_name()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="digits,mnist,fashion_mnist")
    parser.add_argument("--subset", type=int, default=5000, help="samples of the larger datasets")
    parser.add_argument("--digits-subset", type=int, help="samples of digits (default: all 1,797)")
    parser.add_argument("--rates", default="0.1,0.2,0.3,0.4")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--losses", default="blurry")
    parser.add_argument("--kinds", default="symmetric", help="noise kinds (robustloss.components.noise)")
    parser.add_argument("--no-auto", action="store_true", help="the grid passes alone")
    parser.add_argument("--grid", help="grid values of the loss's parameter (default: GRIDS)")
    parser.add_argument("--protocol", default="paper", help="find-issues' training protocol "
                        "(robustloss.find.core.PROTOCOLS; the cached passes are paper's)")
    parser.add_argument("--out", default="results/auto_check")
    parser.add_argument("--cached-only", action="store_true",
                        help="run no pass: summarise what the cache holds of the cases asked for")
    args = parser.parse_args()
    out = Path(args.out)
    passes = PassCache.open(out / "passes.jsonl", run_missing=not args.cached_only)
    done = passes.rows
    grids = {loss: [float(v) for v in args.grid.split(",")] if args.grid else GRIDS[loss]
             for loss in args.losses.split(",")}
    cases = [(d, k, float(r), int(s)) for d in args.datasets.split(",")
             for k in args.kinds.split(",") for r in args.rates.split(",")
             for s in args.seeds.split(",")]
    for dataset, kind, rate, seed in cases:
        subset = subset_used(dataset, args.digits_subset if dataset == "digits" else args.subset)
        case = Case(dataset, subset, rate, seed, kind, *planted(dataset, subset, rate, seed, kind),
                    protocol=args.protocol)
        ce = measure(case, "ce", {}, passes)
        if ce is None:
            print(f"{case.label}: no cross-entropy pass cached, left out", flush=True)
            continue
        noise = NoiseEstimate(ce["eta_hat"], ce["flip"])
        for loss in args.losses.split(","):
            name = PARAMETER_OF[loss]
            for value in grids[loss]:
                measure(case, loss, {name: value}, passes)
            if args.no_auto:
                continue
            row = measure(case, loss, {name: choose_parameter(loss, noise).value}, passes)
            if row is not None:
                done[f"{AUTO} {case.label} {loss}"] = {**row, "auto": AUTO, "eta_hat": ce["eta_hat"]}
    write_passes(done, out / "passes.csv")
    summarise(done, out, grids, {int(s) for s in args.seeds.split(",")})


def write_passes(done: dict, path: Path) -> None:
    """Every pass the cache holds, one row each, its loss parameter as a column (the rows of
    this run's automatic methods say which, under "auto")."""
    rows = pd.DataFrame(done.values()).drop(columns="key", errors="ignore")
    params = pd.DataFrame(list(rows.pop("params")), index=rows.index)
    first = ["dataset", "subset", "kind", "rate", "seed", "loss"]
    rows = pd.concat([rows[first], params, rows.drop(columns=first)], axis=1)
    rows.sort_values(first + list(params.columns), na_position="first").to_csv(path, index=False)


@dataclass
class Case:
    dataset: str
    subset: int | None
    rate: float
    seed: int
    kind: str
    data: UserData
    corrupted: np.ndarray
    protocol: str = "paper"
    train_seed: int | None = None  # folds, initialisation and batch order; None: seed's

    @property
    def model_seed(self) -> int:
        return self.seed if self.train_seed is None else self.train_seed

    @property
    def label(self) -> str:
        return (f"{self.dataset} {self.kind} {self.rate} {self.seed}"
                + (f" (trained with seed {self.train_seed})" if self.retrained else ""))

    @property
    def retrained(self) -> bool:
        return self.model_seed != self.seed

    def key(self, *rest) -> str:
        what = [self.dataset, self.subset, self.rate, self.seed]
        if self.kind != "symmetric":  # keys of symmetric cases as before (cached passes)
            what.append(self.kind)
        if self.protocol != "paper":  # likewise the protocol the cached passes ran with
            what.append(self.protocol)
        if self.retrained:            # and the seed the cached passes trained with
            what.append(f"train_seed {self.train_seed}")
        return json.dumps([*what, *rest], sort_keys=True)

    def kept_name(self) -> str:
        """The file this case's cross-entropy probabilities are kept in."""
        return ce_pass_name(self.dataset, self.kind, self.rate, self.seed, self.subset,
                            self.protocol, self.train_seed if self.retrained else None)

    def row(self, loss: str, params: dict, probs: np.ndarray, seconds: float) -> dict:
        scores = detection_scores(confident_learning(self.data.labels, probs), self.corrupted)
        noise = estimate_noise(self.data.labels, probs)
        return {"dataset": self.dataset, "subset": self.subset, "rate": self.rate,
                "seed": self.seed, "train_seed": self.model_seed, "kind": self.kind,
                "loss": loss, "params": params,
                "f1": scores["f1"], "seconds": seconds, "protocol": self.protocol,
                "eta_hat": noise.rate, "flip": noise.flip}


def measure(case: Case, loss: str, params: dict, passes: PassCache) -> dict | None:
    """F1 of one cross-validated pass (from the cache when it ran before; None when it did
    not and ``passes`` runs no missing pass) with the noise readings of its probabilities (a
    cached cross-entropy pass without the flip rate runs again: the rule reads it). A
    cross-entropy pass's probabilities are kept in <out>/ce_passes, for readings taken later."""
    key, done = case.key(loss, params), passes.rows
    kept = passes.kept(case)
    if key in done and (loss != "ce" or "flip" in done[key]):
        return done[key]
    if not passes.run_missing:
        return None
    start = time.perf_counter()
    settings = FindSettings(seed=case.model_seed, protocol=case.protocol)
    probs = out_of_fold(case.data, settings, loss, params, model_for(case.data), passes.device,
                        False)
    row = {**case.row(loss, params, probs, time.perf_counter() - start), "key": key}
    if loss == "ce":
        kept.parent.mkdir(exist_ok=True)
        np.savez(kept, labels=case.data.labels, probs=probs, corrupted=case.corrupted)
    print(f"{case.label} {loss} {params}: F1 {row['f1']:.4f} ({row['seconds']:.0f} s)", flush=True)
    return passes.store(row)


def filled(rows: pd.DataFrame, column: str, default) -> pd.Series:
    """``rows[column]`` with ``default`` where a cached row predates it (or all do)."""
    return rows.get(column, pd.Series(default, rows.index)).fillna(default)


def summarise(done: dict, out: Path, grids: dict, seeds: set[int] | None = None) -> None:
    """Per dataset, kind, eta and loss: the best of ``grids[loss]`` (the grid asked for; seed
    means) against each automatic method, over ``seeds`` (the run's: the cache may hold grid
    passes of other seeds, whose automatic rows this run did not read). A cached pass at a
    value off that grid (an automatic value, an earlier run's grid) does not count as a grid
    point. Cases with no pass on the grid are left out."""
    rows = pd.DataFrame([r for r in done.values()
                         if r["loss"] != "ce" and (seeds is None or r["seed"] in seeds)
                         and r.get("train_seed", r["seed"]) == r["seed"]])  # not retrained
    rows["kind"] = filled(rows, "kind", "symmetric")
    auto = rows.get("auto", pd.Series(None, rows.index)).astype(object)
    rows["auto"] = auto.where(auto.notna(), False).replace({True: "noise_estimate"})
    rows["value"] = rows.params.map(lambda p: next(iter(p.values())))
    rows["subset"] = rows.subset.astype(object).where(rows.subset.notna(), "all")
    rows["protocol"] = filled(rows, "protocol", "paper")
    lines, case = [], ["dataset", "subset", "protocol", "kind", "rate", "loss"]
    for (dataset, subset, protocol, kind, rate, loss), group in rows.groupby(case):
        on_grid = (group.auto == False) & group.value.isin(grids.get(loss, GRIDS[loss]))  # noqa: E712
        grid = group[on_grid].groupby("value").f1.mean()
        if grid.empty:  # a case the cache holds without a pass on this run's grid
            continue
        line = {"dataset": dataset, "subset": subset, "protocol": protocol, "kind": kind,
                "eta": rate, "loss": loss, "best grid value": grid.idxmax(),
                "best grid F1": grid.max()}
        auto = group[group.auto == AUTO]
        if len(auto):
            lines.append(line | {"auto seeds": auto.seed.nunique(), "auto value": auto.value.mean(),
                                 "auto F1": auto.f1.mean(), "auto gap": grid.max() - auto.f1.mean()})
    table = pd.DataFrame(lines)
    if table.empty:  # grid passes only (--no-auto)
        print("the automatic value ran in no case: nothing to compare with the grid")
        return
    table.to_csv(out / "auto_vs_best.csv", index=False)
    gaps = [c for c in table.columns if c.endswith(" gap")]
    means = table.groupby(["dataset", "subset", "protocol", "kind", "loss"])[gaps].mean()
    text = table.to_markdown(index=False, floatfmt=".4f")
    (out / "auto_vs_best.md").write_text(text + "\n\nmean gap over eta:\n"
                                         + means.to_markdown(floatfmt=".4f") + "\n")
    print(text)
    print("mean gap over eta:")
    print(means.to_markdown(floatfmt=".4f"))


if __name__ == "__main__":
    main()
