"""The find-issues benchmark declared in studies/find_issues_benchmark.md: which default
(protocol x loss) finds synthetic label errors best over digits and the MNIST and
Fashion-MNIST 5,000-image subsets, under symmetric, class-dependent and instance-dependent
noise at eta 0.1 and 0.3, with two held-out checks (the real-error MNIST test set and a
Fashion-MNIST hard-data case) reported beside it.

Each case runs ``find_label_issues`` once (paper protocol since amendment 2) with Blurry
Loss and ``gamma="auto"``: the first pass is cross-entropy (the CE candidate,
``flagged_ce``), the second Blurry Loss at the gamma read off it (BL auto, ``flagged``). The
other candidates are read off those two passes: the gate (amendment 2: CE's flags where its
estimated noise rate is below 0.2) and agreement (amendment 3: flagged by both passes). A
candidate's cost is the passes it needs and their minutes, timed from find-issues' own
"pass N" log lines.

Rows are cached in <out>/runs.jsonl (one per case and protocol), so a killed run resumes
where it stopped; <out>/benchmark.csv has one row per case and candidate, <out>/benchmark.md
the table (mean +- sd over seeds per cell and candidate, cost) and the decision rule's result;
<out>/held_out/ the held-out runs' label_issues tables (studies/mnist_error_ranks.py reads
the MNIST test set's).

    ROBUSTLOSS_DATA=../shared/data python studies/find_issues_benchmark.py \\
        [--out results/find_issues_benchmark] [--datasets digits,mnist,fashion_mnist] \\
        [--kinds symmetric,asymmetric,instance] [--rates 0.1,0.3] \\
        [--held-out fashion_mnist,mnist|fashion_mnist|mnist|none]

--digits-subset and --epochs exist to check the script in seconds; rows they produce are
marked (``check``) and are no benchmark.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from robustloss.detection.metrics import detection_scores
from robustloss.experiments.provenance import package_versions
from robustloss.find.core import find_label_issues
from robustloss.find.inputs import UserData

# The declared cases (studies/find_issues_benchmark.md): seeds no study used before; three
# for every dataset since amendment 2 (issue 49).
SEEDS = {"digits": (10, 11, 12), "mnist": (10, 11, 12), "fashion_mnist": (10, 11, 12)}
HELD_OUT_SEEDS = (0, 1, 2)         # training seeds of each held-out case (amendment 2)
SUBSET = 5000                      # images of MNIST and Fashion-MNIST (digits: all 1,797)
KINDS = ("symmetric", "asymmetric", "instance")
RATES = (0.1, 0.3)
PROTOCOLS = ("paper",)             # amendment 2: the strong protocol dropped (issue 49)
# candidate -> (simplicity rank: ties go to the lower, its rule); a rule takes the run's
# table and its CE pass's estimated noise rate and gives (flags' column, passes)
GATE = 0.20                        # amendment 2: below this estimated noise rate, CE's flags
CANDIDATES = {
    "CE": (0, lambda eta_hat: ("flagged_ce", 1)),
    "BL auto": (1, lambda eta_hat: ("flagged", 2)),
    "CE below η̂ 0.2, else BL auto": (2, lambda eta_hat: ("flagged_ce", 1) if eta_hat < GATE
                                      else ("flagged", 2)),
    # amendment 3: flagged where both passes flag (BL auto's order for the top-100 count)
    "BL auto and CE agree": (3, lambda eta_hat: ("flagged_both", 2)),
}
# One pass's F1 moves by sd 0.012-0.027 with the training seed alone
# (studies/measurements/pass_noise_mnist_subset.md); the decision allows twice the largest.
PASS_NOISE = 0.027
# short name -> case; the hard-data case first (the cheaper one, and issue 37's check)
HELD_OUT = {"fashion_mnist": "fashion_mnist hard case", "mnist": "mnist test set (real errors)"}


def read_review(root: str | Path | None = None) -> pd.DataFrame:
    """The reviewers' verdict on Confident Learning's 100 MNIST test-set candidates
    (Northcutt et al. 2021; one row each: test_index, given_label, cl_guessed_label, the
    votes, is_label_error), from ``<data>/label-errors`` (``root`` None: ROBUSTLOSS_DATA or
    the default data folder)."""
    from robustloss.data.vision import data_root

    return pd.read_csv(Path(data_root(root)) / "label-errors" / "mnist_test_label_errors.csv")


def review_counts(table: pd.DataFrame, reviewed: pd.DataFrame, flagged: str = "flagged",
                  rank: str = "rank") -> dict:
    """How a run's flags and ranking meet the reviewed MNIST test images."""
    errors = set(reviewed.loc[reviewed.is_label_error == 1, "test_index"])
    correct = set(reviewed.loc[reviewed.is_label_error == 0, "test_index"])
    ordered = table.sort_values(rank)["index"]
    chosen = set(table.loc[table[flagged], "index"])
    return {"confirmed errors flagged (of 15)": len(chosen & errors),
            "confirmed errors in top 50": len(set(ordered.head(50)) & errors),
            "confirmed errors in top 100": len(set(ordered.head(100)) & errors),
            "confirmed correct flagged (of 85)": len(chosen & correct)}


def synthetic_case(dataset: str, kind: str, rate: float, seed: int, digits_subset: int | None):
    """(UserData with noisy labels, corrupted mask) of one declared cell and seed."""
    from auto_parameter_check import planted, subset_used

    subset = subset_used(dataset, digits_subset if dataset == "digits" else SUBSET)
    return planted(dataset, subset, rate, seed, kind)


def held_out_case(name: str):
    """(UserData, truth, reviewed or None) of a held-out case: the MNIST test set with its
    original labels (truth: the 15 errors reviewers confirmed), or the first 4,000
    Fashion-MNIST test images with 10 % of their labels flipped uniformly (seed 11)."""
    from robustloss.components.noise import corrupt
    from robustloss.data import load

    if name.startswith("mnist"):
        mnist, reviewed = load("mnist"), read_review()
        labels = np.asarray(mnist.test_labels, dtype=np.int64)
        truth = np.zeros(len(labels), dtype=bool)
        truth[reviewed.loc[reviewed.is_label_error == 1, "test_index"].to_numpy()] = True
        images = mnist.test_images
    else:
        fashion, reviewed = load("fashion_mnist"), None
        images = fashion.test_images[:4000]
        clean = np.asarray(fashion.test_labels[:4000], dtype=np.int64)
        labels, truth = corrupt("symmetric", clean, 10, 0.1, 11, dataset="fashion_mnist",
                                images=images)
    data = UserData(images, labels, [str(k) for k in range(10)],
                    [str(i) for i in range(len(labels))], name, "images")
    return data, truth, reviewed


class PassTimes(logging.Handler):
    """When find-issues logs each "pass N" line: the passes' seconds once it returns."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.starts: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("pass "):
            self.starts.append(time.perf_counter())

    def seconds(self, end: float) -> list[float]:
        return list(np.diff([*self.starts, end]))


def run_case(data: UserData, truth: np.ndarray, protocol: str, seed: int,
             epochs: int | None) -> tuple[dict, pd.DataFrame]:
    """One find_label_issues run (CE pass, then Blurry Loss at the automatic gamma): both
    candidates' scores and costs, and the run's table."""
    logger, timer = logging.getLogger("robustloss.find"), PassTimes()
    logger.addHandler(timer)
    logger.setLevel(logging.INFO)
    try:
        table = find_label_issues(data, progress=False, protocol=protocol, seed=seed,
                                  loss="blurry", gamma="auto", compare="auto", epochs=epochs)
        ce_seconds, bl_seconds = timer.seconds(time.perf_counter())
    finally:
        logger.removeHandler(timer)
    table["flagged_both"] = table.flagged & table.flagged_ce
    flags = table.sort_values("index")
    out = {"gamma": table.attrs["loss_params"]["gamma"],
           "eta_hat": table.attrs["choice"]["estimated_noise_rate"],
           "flip": table.attrs["choice"]["estimated_flip_rate"], "candidates": {}}
    for candidate, (_, rule) in CANDIDATES.items():
        column, passes = rule(out["eta_hat"])
        scores = detection_scores(flags[column].to_numpy(), truth)
        out["candidates"][candidate] = {
            "f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"],
            "flagged": int(flags[column].sum()), "passes": passes, "column": column,
            "seconds": ce_seconds + (bl_seconds if passes == 2 else 0.0)}
    return out, table


def keep_flags(out: Path, key: str, table: pd.DataFrame) -> None:
    """Both passes' flags of a case, in input order (``<out>/flags/<hash of its key>.npz``
    with the key inside), so a candidate read off the two passes needs no rerun."""
    import hashlib

    folder = out / "flags"
    folder.mkdir(exist_ok=True)
    flags = table.sort_values("index")
    np.savez_compressed(folder / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.npz", key=key,
                        flagged=flags.flagged.to_numpy(), flagged_ce=flags.flagged_ce.to_numpy())


def cases(args) -> list[dict]:
    """The cases asked for: the declared synthetic ones (cut by --datasets, --kinds, --rates,
    --seeds), then the held-out ones."""
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else None
    out = [{"dataset": d, "kind": k, "rate": r, "seed": s}
           for d in (args.datasets.split(",") if args.datasets != "none" else [])
           for k in args.kinds.split(",")
           for r in (float(x) for x in args.rates.split(",")) for s in (seeds or SEEDS[d])]
    held = [] if args.held_out == "none" else args.held_out.split(",")
    out += [{"dataset": HELD_OUT[name], "kind": "held out", "rate": None, "seed": s}
            for name in held for s in HELD_OUT_SEEDS]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="results/find_issues_benchmark")
    parser.add_argument("--datasets", default=",".join(SEEDS), help="or none: held-out cases only")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--rates", default=",".join(map(str, RATES)))
    parser.add_argument("--seeds", help="in place of the declared seeds (a check, not the benchmark)")
    parser.add_argument("--held-out", default=",".join(HELD_OUT), choices=(
        *HELD_OUT, ",".join(HELD_OUT), "none"), help="which held-out cases run after the others")
    parser.add_argument("--digits-subset", type=int, help="a check in seconds: this many digits")
    parser.add_argument("--epochs", type=int, help="a check in seconds: epochs of every pass")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "runs.jsonl"
    done = {}
    if cache.exists():
        done = {row["key"]: row for row in map(json.loads, cache.read_text().splitlines())}
    check = bool(args.digits_subset or args.epochs or args.seeds)
    for case in cases(args):
        for protocol in PROTOCOLS:
            key = json.dumps([case, protocol, args.digits_subset, args.epochs])
            if key in done and set(CANDIDATES) <= set(done[key]["candidates"]):
                continue  # a row without a later-declared candidate's score runs again
            began = time.perf_counter()
            if case["kind"] == "held out":
                data, truth, reviewed = held_out_case(case["dataset"])
            else:
                (data, truth), reviewed = synthetic_case(
                    case["dataset"], case["kind"], case["rate"], case["seed"], args.digits_subset), None
            result, table = run_case(data, truth, protocol, case["seed"], args.epochs)
            keep_flags(out, key, table)
            if case["kind"] == "held out":  # for studies/mnist_error_ranks.py
                (out / "held_out").mkdir(exist_ok=True)
                table.to_csv(out / "held_out" / f"{case['dataset'].split()[0]}_{protocol}"
                             f"_seed{case['seed']}.csv", index=False)
            if reviewed is not None:
                for scores in result["candidates"].values():
                    column = scores["column"]
                    rank = "rank_ce" if column == "flagged_ce" else "rank"
                    scores |= review_counts(table, reviewed, column, rank)
            row = {"key": key, **case, "protocol": protocol, "check": check, **result,
                   "samples": len(data), "versions": package_versions()}
            with cache.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            done[key] = row
            print(f"{case} {protocol}: " + ", ".join(
                f"{c} F1 {v['f1']:.3f}" for c, v in result["candidates"].items())
                + f" (gamma {result['gamma']}, {time.perf_counter() - began:.0f} s)", flush=True)
    rows = flatten(done.values())
    rows.to_csv(out / "benchmark.csv", index=False)
    text = summary(rows)
    (out / "benchmark.md").write_text(text)
    print(text)


def flatten(runs) -> pd.DataFrame:
    """One row per case, protocol and candidate."""
    rows = [{k: v for k, v in run.items() if k not in ("candidates", "key", "versions")}
            | {"candidate": f"{run['protocol']} / {name}", "loss": name} | scores
            for run in runs for name, scores in run["candidates"].items()]
    return pd.DataFrame(rows)


def summary(rows: pd.DataFrame) -> str:
    """The table (mean +- sd of F1 over seeds per cell and candidate), the cost, and the
    decision rule's result on the synthetic cells."""
    if rows.empty:
        return "no case has run\n"
    synthetic = rows[rows.kind != "held out"]
    lines = ["# find-issues benchmark: results", ""]
    if rows.check.any():
        lines += ["**A check run (--seeds, --digits-subset or --epochs): no benchmark.**", ""]
    cell = ["dataset", "kind", "rate"]
    if not synthetic.empty:
        stats = synthetic.groupby([*cell, "candidate"]).f1.agg(["mean", "std", "count"])
        table = stats.apply(lambda r: f"{r['mean']:.3f} ± {0 if np.isnan(r['std']) else r['std']:.3f}"
                            f" ({int(r['count'])})", axis=1).unstack("candidate")
        lines += ["F1, mean ± sd over seeds (seeds):", "", table.to_markdown(), ""]
        paired = synthetic.pivot_table(index=[*cell, "seed"], columns="candidate", values="f1")
        paired = paired.sub(paired["paper / CE"], axis=0).drop(columns="paper / CE")
        stats = paired.groupby(level=cell).agg(["mean", "std"])
        table = pd.DataFrame({c: [f"{m:+.3f} ± {sd:.3f}" for m, sd in
                                  zip(stats[(c, "mean")], stats[(c, "std")], strict=True)]
                              for c in paired}, index=stats.index)
        lines += ["Candidate − CE, paired over seeds (mean ± sd):", "", table.to_markdown(), ""]
    group = rows.dataset.where(rows.kind == "held out",
                               rows.dataset.map(lambda d: "digits" if d == "digits" else
                                                f"{d} {SUBSET:,}-image subsets"))
    cost = rows.assign(group=group).groupby(["candidate", "group"]).seconds.mean().div(60)
    lines += ["Minutes per case (mean over the cases run; one thread):", "",
              cost.unstack("group").to_markdown(floatfmt=".2f"), ""]
    held = rows[rows.kind == "held out"]
    if not held.empty:
        lines += ["Held-out cases (not in the decision), over training seeds " +
                  ", ".join(map(str, sorted(held.seed.unique()))) + ":", "",
                  held_out_table(held).to_markdown(), ""]
    if not synthetic.empty:
        lines += decision(synthetic.groupby([*cell, "candidate"]).f1.mean().unstack("candidate"),
                          synthetic.groupby("candidate").passes.mean())
    return "\n".join(lines) + "\n"


def held_out_table(held: pd.DataFrame) -> pd.DataFrame:
    """Per held-out case and candidate: F1 mean ± sd over seeds, and each count seed by seed."""
    counts = [c for c in ("flagged", "confirmed errors flagged (of 15)", "confirmed errors in top 50",
                          "confirmed errors in top 100", "confirmed correct flagged (of 85)")
              if c in held]
    out = {}
    for key, runs in held.sort_values("seed").groupby(["dataset", "candidate"]):
        f1 = runs.f1.to_numpy()
        out[key] = {"F1": f"{f1.mean():.3f} ± {f1.std(ddof=1) if len(f1) > 1 else 0:.3f} ({len(f1)})"}
        out[key] |= {c: " / ".join(str(int(v)) for v in runs[c].dropna()) for c in counts}
    return pd.DataFrame.from_dict(out, orient="index")


def decision(cells: pd.DataFrame, passes: pd.Series) -> list[str]:
    """The declared rule (amendment 2) on cell means (rows: cells, columns: candidates): among
    the candidates whose every cell is within twice the pass noise of CE's, the best mean F1;
    a lead under twice the standard error of the paired difference over cells is a tie, and
    ties go to fewer passes (mean over cases), then to the simpler candidate."""
    lines = ["Decision (studies/find_issues_benchmark.md, amendments 2 and 3):", "",
             "| candidate | mean F1 over cells | worst cell − CE | eligible | passes |",
             "| --- | --- | --- | --- | --- |"]
    ce = cells["paper / CE"]
    eligible = []
    for candidate in cells:
        worst = (cells[candidate] - ce).min()
        if worst >= -2 * PASS_NOISE:
            eligible.append(candidate)
        lines.append(f"| {candidate} | {cells[candidate].mean():.4f} | {worst:+.4f} | "
                     f"{'yes' if candidate in eligible else 'no'} | {passes[candidate]:.2f} |")
    best = max(eligible, key=lambda c: cells[c].mean())
    tied = [best]
    for candidate in eligible:
        if candidate == best:
            continue
        diff = cells[best] - cells[candidate]
        noise = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
        if diff.mean() < 2 * noise:
            tied.append(candidate)
        lines.append(f"| {best} − {candidate} | {diff.mean():+.4f} | 2 × se {2 * noise:.4f} | "
                     f"{'tie' if candidate in tied else 'lead'} | |")
    chosen = min(tied, key=lambda c: (round(passes[c], 2), CANDIDATES[c.split(" / ", 1)[1]][0]))
    lines += ["", f"Default by the rule: **{chosen}**"
              + (" (cross-entropy: the robust loss stays one flag away, --loss blurry)"
                 if chosen.endswith("/ CE") else "") + ".", ""]
    return lines


if __name__ == "__main__":
    main()
