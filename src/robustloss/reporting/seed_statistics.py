"""Table 1 rows over seeds, compared with the paper's statistics rather than by eye.

Per cell (dataset, eta, loss; Confident Learning, symmetric noise): our mean ± sd over n
seeds, the paper's mean ± sd over its 20 trials, the difference and Welch's t-test p-value
(``scipy.stats.ttest_ind_from_stats``, unequal variances). Per row, the paper's ordering
question on our own seeds: BL − CE and PZ − CE as paired differences over the seeds both
losses ran, with a 95 % t confidence interval, beside the paper's difference of means.
F1 and balanced accuracy both. A loss with several parameter values in the records (a γ or
c grid) enters with the value that has the most seeds (then the best mean).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from robustloss.reporting.paper import DATASET_LABELS, LOSS_COLUMNS, MIN_STD, attach_published, parameter_text

PAPER_TRIALS = 20   # paper: 20 trials per cell of Tables 1-2
METRICS = {"f1": "F1", "balanced_accuracy": "balanced accuracy"}
ORDER = [column for column, _ in LOSS_COLUMNS.values()]


def seed_frame(records: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``tables.records_frame`` that enter the comparison: Confident Learning,
    symmetric noise, one variant per (dataset, eta, loss) (most seeds, then best mean F1);
    adds ``column`` (the paper's loss label)."""
    chosen = records[(records["detector"] == "confident_learning")
                     & (records["noise"] == "symmetric")]
    if chosen.empty:
        return chosen.assign(column=[])
    chosen = most_seeded(chosen, ["dataset", "eta", "loss"], "variant")
    return chosen.assign(column=chosen["loss"].map(lambda loss: LOSS_COLUMNS[loss][0]))


def most_seeded(frame: pd.DataFrame, keys: list[str], variant: str) -> pd.DataFrame:
    """The rows of one ``variant`` per ``keys``: the one with the most seeds, then the best
    mean F1 (the rule the tables and Figure 9 share)."""
    ranked = (frame.groupby([*keys, variant])
              .agg(seeds=("seed", "nunique"), mean=("f1", "mean")).reset_index()
              .sort_values(["seeds", "mean", variant], ascending=[False, False, True])
              .drop_duplicates(keys))
    return frame.merge(ranked[[*keys, variant]], on=[*keys, variant])


def _parameter(variant: str, loss: str) -> str:
    swept = LOSS_COLUMNS[loss][1]
    return parameter_text(swept, json.loads(variant)[swept]) if swept else ""


def cells(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per cell: ours (mean, sd, n, parameter, seeds), the paper's (mean, sd, n = 20),
    diff = ours − paper, Welch's p-value (NaN below two seeds), outside_2sigma."""
    grouped = frame.groupby(["dataset", "eta", "loss", "column", "variant"])
    out = grouped[metric].agg(mean="mean", std="std", n="count").reset_index()
    out["seeds"] = [",".join(map(str, sorted(g["seed"]))) for _, g in grouped]
    out["parameter"] = [_parameter(v, loss) for v, loss in zip(out["variant"], out["loss"], strict=True)]
    out = attach_published(out.assign(detector="confident_learning", noise="symmetric"), metric)
    welch = [stats.ttest_ind_from_stats(m, s, n, pm, max(ps, MIN_STD), PAPER_TRIALS,
                                        equal_var=False).pvalue
             if n >= 2 and not np.isnan(pm) else np.nan
             for m, s, n, pm, ps in zip(out["mean"], out["std"], out["n"], out["paper_mean"],
                                        out["paper_std"], strict=True)]
    out["welch_p"] = welch
    out["metric"] = metric
    out["rank"] = out["column"].map(ORDER.index)
    return (out.sort_values(["dataset", "eta", "rank"])
            [["metric", "dataset", "eta", "column", "parameter", "n", "seeds", "mean", "std",
              "paper_mean", "paper_std", "paper_param", "diff", "welch_p", "outside_2sigma"]]
            .reset_index(drop=True))


def paired_differences(frame: pd.DataFrame, metric: str, baseline: str = "CE",
                       against: tuple[str, ...] = ("BL", "PZ")) -> pd.DataFrame:
    """Per (dataset, eta) and loss in ``against``: the paired difference loss − baseline over
    the seeds both ran (mean, 95 % t interval, n) and the paper's difference of means."""
    paper = cells(frame, metric).set_index(["dataset", "eta", "column"])["paper_mean"]
    rows = []
    for (dataset, eta), group in frame.groupby(["dataset", "eta"]):
        wide = group.pivot_table(index="seed", columns="column", values=metric)
        for column in against:
            if column not in wide or baseline not in wide:
                continue
            diffs = (wide[column] - wide[baseline]).dropna()
            n = len(diffs)
            half = (stats.t.ppf(0.975, n - 1) * diffs.std(ddof=1) / np.sqrt(n)) if n >= 2 else np.nan
            paper_diff = (paper.get((dataset, eta, column), np.nan)
                          - paper.get((dataset, eta, baseline), np.nan))
            rows.append({"metric": metric, "dataset": dataset, "eta": eta,
                         "difference": f"{column} − {baseline}", "n": n,
                         "mean": diffs.mean() if n else np.nan,
                         "ci_low": diffs.mean() - half, "ci_high": diffs.mean() + half,
                         "paper_difference": paper_diff})
    return pd.DataFrame(rows)


def _fmt(value: float, digits: int = 4) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def _mean_sd(mean: float, std: float, digits: int = 4) -> str:
    return f"{_fmt(mean, digits)} ± {_fmt(std, digits)}"


def _interval(low: float, high: float) -> str:
    return f"[{_fmt(low)}, {_fmt(high)}]"


def _of_metric(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows of ``table`` for ``metric`` (an empty table, which has no columns, as is)."""
    return table[table["metric"] == metric] if not table.empty else table


def markdown(cell_table: pd.DataFrame, paired: pd.DataFrame) -> str:
    """Both tables as Markdown, a section per metric."""
    parts = []
    for metric, label in METRICS.items():
        rows = _of_metric(cell_table, metric)
        if rows.empty:
            continue
        lines = [f"### {label}", "",
                 "| dataset | η | loss | ours mean ± sd | n (seeds) | paper mean ± sd (n = 20) "
                 "| diff | Welch p | outside paper 2σ |", "|" + " --- |" * 9]
        for r in rows.itertuples():
            loss = f"{r.column} ({r.parameter})" if r.parameter else r.column
            flag = "" if pd.isna(r.outside_2sigma) else ("**yes**" if r.outside_2sigma else "no")
            # Table 2 gives BL / PZ at their best parameter for balanced accuracy, which may
            # not be the one that ran (the row's best for F1): then the paper's is named
            other = (f" ({r.paper_param})" if isinstance(r.paper_param, str) and r.paper_param
                     and r.paper_param != r.parameter else "")
            lines.append(f"| {r.dataset} | {r.eta:g} | {loss} | {_mean_sd(r.mean, r.std)} "
                         f"| {r.n} ({r.seeds}) | {_mean_sd(r.paper_mean, r.paper_std, 3)}{other} "
                         f"| {_fmt(r.diff)} | {_fmt(r.welch_p, 3)} | {flag} |")
        pairs = _of_metric(paired, metric)
        if not pairs.empty:
            lines += ["", "| dataset | η | paired difference | n | mean | 95 % CI | paper's difference |",
                      "|" + " --- |" * 7]
            for r in pairs.itertuples():
                lines.append(f"| {r.dataset} | {r.eta:g} | {r.difference} | {r.n} | {_fmt(r.mean)} "
                             f"| {_interval(r.ci_low, r.ci_high)} | {_fmt(r.paper_difference, 3)} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def summary_markdown(cell_table: pd.DataFrame, paired: pd.DataFrame, metric: str = "f1") -> str:
    """The README's digest of the comparison: a loss per line and a column pair per (dataset,
    eta), ours as mean ± sd (n seeds) beside the paper's mean ± sd; then a line per (dataset,
    eta) with the paired BL − CE and PZ − CE and their 95 % intervals."""
    rows = _of_metric(cell_table, metric)
    order = list(DATASET_LABELS)
    groups = sorted(rows.groupby(["dataset", "eta"]).groups,
                    key=lambda key: (order.index(key[0]) if key[0] in order else len(order), key))
    names = {key: f"{DATASET_LABELS.get(key[0], key[0])} η {key[1]:g}" for key in groups}
    lines = ["| loss | " + " | ".join(f"{names[key]}: ours (n) | paper" for key in groups) + " |",
             "|" + " --- |" * (1 + 2 * len(groups))]
    by_cell = rows.set_index(["dataset", "eta", "column"])
    for column in ORDER:
        cells_of_loss = _pairs_of_cells(by_cell, [(*key, column) for key in groups], lambda r: [
            f"{_mean_sd(r['mean'], r['std'])} ({r['n']})" + (f", {r['parameter']}" if r["parameter"] else ""),
            _mean_sd(r["paper_mean"], r["paper_std"], 3)])
        if any(cell != "–" for cell in cells_of_loss):
            lines.append(f"| {column} | " + " | ".join(cells_of_loss) + " |")
    pairs = _of_metric(paired, metric)
    if pairs.empty:
        return "\n".join(lines) + "\n"
    differences = list(dict.fromkeys(pairs["difference"]))
    lines += ["", "| paired over seeds | " + " | ".join(f"{d} (95 % CI) | paper" for d in differences) + " |",
              "|" + " --- |" * (1 + 2 * len(differences))]
    by_pair = pairs.set_index(["dataset", "eta", "difference"])
    for key in groups:
        parts = _pairs_of_cells(by_pair, [(*key, d) for d in differences], lambda r: [
            f"{r['mean']:+.4f} {_interval(r['ci_low'], r['ci_high'])} (n {r['n']})",
            f"{r['paper_difference']:+.3f}"])
        lines.append(f"| {names[key]} | " + " | ".join(parts) + " |")
    return "\n".join(lines) + "\n"


def _pairs_of_cells(table: pd.DataFrame, keys: list[tuple], render) -> list[str]:
    """Two Markdown cells per key of ``table``'s index, ``render(row)``; dashes where the key
    is absent."""
    cells_out: list[str] = []
    for key in keys:
        cells_out += render(table.loc[key]) if key in table.index else ["–", "–"]
    return cells_out


def write_seed_comparison(records: pd.DataFrame, out_dir: str | Path) -> str:
    """seed_comparison.{md,csv}, paired_differences.csv and seed_summary.md (the README's
    digest, F1) under ``out_dir`` from a ``tables.records_frame``; returns the Markdown (''
    when no record enters)."""
    frame = seed_frame(records)
    if frame.empty:
        return ""
    cell_table = pd.concat([cells(frame, m) for m in METRICS], ignore_index=True)
    paired = pd.concat([paired_differences(frame, m) for m in METRICS], ignore_index=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cell_table.to_csv(out_dir / "seed_comparison.csv", index=False)
    paired.to_csv(out_dir / "paired_differences.csv", index=False)
    text = markdown(cell_table, paired)
    (out_dir / "seed_comparison.md").write_text(text)
    (out_dir / "seed_summary.md").write_text(summary_markdown(cell_table, paired))
    return text
