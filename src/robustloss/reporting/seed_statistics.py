"""Table 1 and Table 2 rows over seeds, compared with the paper's statistics rather than by eye.

Per cell (dataset, eta, loss; Confident Learning, symmetric noise): our mean ± sd over n
seeds, the paper's mean ± sd over its 20 trials, the difference and Welch's t-test p-value
(``scipy.stats.ttest_ind_from_stats``, unequal variances), and whether we are outside its
± 2σ. F1 is compared with Table 1, balanced accuracy with Table 2, each at that table's own
γ / c where records at it exist (``choose``). Per row, the paper's claim on our own seeds:
BL − CE, PZ − CE and BL − the row's strongest other baseline (by the paper's Table 1 mean) as
paired differences over the seeds both losses ran, with a 95 % t interval, beside the paper's
difference of means; and a verdict in words (``verdict``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from robustloss.reporting.paper import (
    DATASET_LABELS,
    LOSS_COLUMNS,
    MIN_STD,
    attach_published,
    parameter_text,
    published,
)
from robustloss.reporting.paper.rows import paper_row, strongest_baseline

PAPER_TRIALS = 20   # paper: 20 trials per cell of Tables 1-2
METRICS = {"f1": "F1", "balanced_accuracy": "balanced accuracy"}
ORDER = [column for column, _ in LOSS_COLUMNS.values()]


def seed_frame(records: pd.DataFrame, metric: str = "f1") -> pd.DataFrame:
    """The rows of ``tables.records_frame`` that enter the comparison of ``metric``: Confident
    Learning, symmetric noise, one variant per (dataset, eta, loss) (``choose``); adds
    ``column`` (the paper's loss label) and ``param`` (the swept γ or c, NaN without one)."""
    chosen = records[(records["detector"] == "confident_learning")
                     & (records["noise"] == "symmetric")]
    if chosen.empty:
        return chosen.assign(column=[], param=[])
    chosen = chosen.assign(
        column=chosen["loss"].map(lambda loss: LOSS_COLUMNS[loss][0]),
        param=[json.loads(v).get(LOSS_COLUMNS[loss][1] or "", np.nan)
               for v, loss in zip(chosen["variant"], chosen["loss"], strict=True)])
    return choose(chosen, metric, "variant")


def paper_cell(dataset: str, eta, loss: str, metric: str) -> pd.Series | None:
    """The paper's cell of ``metric``'s table (Table 1 for F1, Table 2 for balanced accuracy):
    mean, std, param_value; None where it has none, and for a subset ("mnist (n=300)"): not
    the paper's experiment (``attach_published`` leaves it uncompared too)."""
    paper = published()
    row = paper[(paper["metric"] == metric) & (paper["detector"] == "confident_learning")
                & (paper["dataset"] == DATASET_LABELS.get(dataset))
                & (paper["eta"] == eta) & (paper["loss"] == LOSS_COLUMNS[loss][0])]
    return row.iloc[0] if len(row) else None


def paper_parameter(dataset: str, eta, loss: str, metric: str) -> float:
    """The γ or c at which the paper reports a cell of ``metric``'s table; NaN where it has
    no such cell or parameter. A subset ("mnist (n=300)") reads its dataset's."""
    cell = paper_cell(dataset.split(" (n=")[0], eta, loss, metric)
    return np.nan if cell is None else float(cell["param_value"])


def choose(frame: pd.DataFrame, metric: str, variant: str) -> pd.DataFrame:
    """One ``variant`` per (dataset, eta, loss), the rule the tables and Figure 9 share: the
    paper's own γ / c for ``metric``'s table when it has records, else the variant with the
    most seeds, then the best mean F1. ``frame`` needs a ``param`` column."""
    at_paper = [np.isnan(param) or np.isclose(param, paper_parameter(d, e, loss, metric))
                for d, e, loss, param in zip(frame["dataset"], frame["eta"], frame["loss"],
                                             frame["param"].astype(float), strict=True)]
    return most_seeded(frame.assign(at_paper=at_paper), ["dataset", "eta", "loss"], variant)


def most_seeded(frame: pd.DataFrame, keys: list[str], variant: str) -> pd.DataFrame:
    """The rows of one ``variant`` per ``keys``: one at the paper's parameter first (where
    ``frame`` has ``at_paper``), then the one with the most seeds, then the best mean F1."""
    prefer = frame["at_paper"] if "at_paper" in frame else pd.Series(True, index=frame.index)
    ranked = (frame.assign(at_paper=prefer).groupby([*keys, variant])
              .agg(at_paper=("at_paper", "all"), seeds=("seed", "nunique"), mean=("f1", "mean"))
              .reset_index()
              .sort_values(["at_paper", "seeds", "mean", variant],
                           ascending=[False, False, False, True])
              .drop_duplicates(keys))
    return frame.merge(ranked[[*keys, variant]], on=[*keys, variant])


def _parameter(variant: str, loss: str) -> str:
    swept = LOSS_COLUMNS[loss][1]
    return parameter_text(swept, json.loads(variant)[swept]) if swept else ""


def cells(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per cell: ours (mean, sd, n, parameter, seeds), the paper's (mean, sd, n = 20),
    diff = ours − paper, Welch's p-value (NaN below two seeds), outside_2sigma, minutes (the
    median wall time of the cell's runs, from their records)."""
    grouped = frame.groupby(["dataset", "eta", "loss", "column", "variant"])
    out = grouped[metric].agg(mean="mean", std="std", n="count").reset_index()
    out["seeds"] = [",".join(map(str, sorted(g["seed"]))) for _, g in grouped]
    out["minutes"] = [g["seconds"].median() / 60 if "seconds" in g else np.nan for _, g in grouped]
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
              "paper_mean", "paper_std", "paper_param", "diff", "welch_p", "outside_2sigma",
              "minutes"]]
            .reset_index(drop=True))


BEST_BASELINE = "best other baseline"


def comparisons(dataset: str, eta) -> list[tuple[str, str, str]]:
    """(comparison, loss, baseline) of a row: BL − CE, PZ − CE and BL − the row's strongest
    other baseline by the paper's Table 1 mean (left out where the paper has no such row)."""
    pairs = [("BL − CE", "BL", "CE"), ("PZ − CE", "PZ", "CE")]
    try:
        best = strongest_baseline(paper_row(dataset, eta))
    except (ValueError, KeyError):
        return pairs
    return [*pairs, (BEST_BASELINE, "BL", best)]


def paired_differences(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (dataset, eta) and comparison (``comparisons``): the paired difference over the
    seeds both losses ran (mean, 95 % t interval, n; n 0 where one of them has no records),
    the paper's difference of means, and ``paper_at``: the paper's γ / c where its cells are
    at another one than ours ("BL γ=0.4"; empty where they agree)."""
    table = cells(frame, metric).set_index(["dataset", "eta", "column"])
    rows = []
    for (dataset, eta), group in frame.groupby(["dataset", "eta"]):
        wide = group.pivot_table(index="seed", columns="column", values=metric)
        for comparison, column, baseline in comparisons(dataset, eta):
            both = column in wide and baseline in wide
            diffs = (wide[column] - wide[baseline]).dropna() if both else pd.Series(dtype=float)
            n = len(diffs)
            half = (stats.t.ppf(0.975, n - 1) * diffs.std(ddof=1) / np.sqrt(n)) if n >= 2 else np.nan
            sides = [table.loc[(dataset, eta, c)] if (dataset, eta, c) in table.index else None
                     for c in (column, baseline)]
            paper_diff = (np.nan if any(side is None for side in sides)
                          else sides[0]["paper_mean"] - sides[1]["paper_mean"])
            elsewhere = [(c, _paper_param_elsewhere(side["paper_param"], side["parameter"]))
                         for c, side in zip((column, baseline), sides, strict=True) if side is not None]
            paper_at = ", ".join(f"{c} {param}" for c, param in elsewhere if param)
            rows.append({"metric": metric, "dataset": dataset, "eta": eta,
                         "comparison": comparison, "difference": f"{column} − {baseline}", "n": n,
                         "mean": diffs.mean() if n else np.nan,
                         "ci_low": diffs.mean() - half if n else np.nan,
                         "ci_high": diffs.mean() + half if n else np.nan,
                         "paper_difference": paper_diff, "paper_at": paper_at})
    return pd.DataFrame(rows)


def _paper_param_elsewhere(paper_param, parameter: str) -> str:
    """The paper's γ / c of a cell ("γ=0.4") where it is not ours; "" where they agree, where
    the loss has none or the paper has no such cell (NaN)."""
    return paper_param if isinstance(paper_param, str) and paper_param and paper_param != parameter else ""


def _paper_difference(r) -> str:
    """'0.010', or '0.010 (at BL γ=0.4)' where the paper's cells are at another γ / c."""
    return _fmt(r.paper_difference, 3) + (f" (at {r.paper_at})" if r.paper_at else "")


def _fmt(value: float, digits: int = 4) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def _signed(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:+.3f}"


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
                 "| diff | Welch p | outside paper 2σ | minutes a run |", "|" + " --- |" * 10]
        for r in rows.itertuples():
            loss = f"{r.column} ({r.parameter})" if r.parameter else r.column
            flag = "" if pd.isna(r.outside_2sigma) else ("**yes**" if r.outside_2sigma else "no")
            # Table 2 gives BL / PZ at their best parameter for balanced accuracy, which may
            # not be the one that ran (the row's best for F1): then the paper's is named
            other = _paper_param_elsewhere(r.paper_param, r.parameter)
            other = f" ({other})" if other else ""
            lines.append(f"| {r.dataset} | {r.eta:g} | {loss} | {_mean_sd(r.mean, r.std)} "
                         f"| {r.n} ({r.seeds}) | {_mean_sd(r.paper_mean, r.paper_std, 3)}{other} "
                         f"| {_fmt(r.diff)} | {_fmt(r.welch_p, 3)} | {flag} | {_fmt(r.minutes, 0)} |")
        pairs = _of_metric(paired, metric)
        if not pairs.empty:
            lines += ["", "| dataset | η | paired difference | n | mean | 95 % CI | paper's difference |",
                      "|" + " --- |" * 7]
            for r in pairs.itertuples():
                lines.append(f"| {r.dataset} | {r.eta:g} | {r.difference} | {r.n} | {_fmt(r.mean)} "
                             f"| {_interval(r.ci_low, r.ci_high)} | {_paper_difference(r)} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _side(row) -> str | None:
    """Where a paired interval lies: "above" or "below" zero, "includes 0"; None below 2 seeds."""
    if row["n"] < 2 or pd.isna(row["ci_low"]):
        return None
    return "above" if row["ci_low"] > 0 else "below" if row["ci_high"] < 0 else "includes 0"


def verdict(pairs: pd.DataFrame) -> str:
    """The paper's claim on one row in words, per loss: BL beats CE and the best other
    baseline, PZ beats CE. "holds" where every interval is above zero, "does not hold" where
    one is below (naming it, and "as in the paper" where the paper's difference is below zero
    too), "cannot tell at n k" where one includes zero (k: its seeds); a comparison still
    under two seeds is named beside the others' verdict, and "holds" becomes "holds so far"."""
    words = []
    for loss in ("BL", "PZ"):
        mine = pairs[pairs["difference"].str.startswith(f"{loss} − ")]
        sides = {r["difference"]: (_side(r), r["n"]) for _, r in mine.iterrows()}
        decided = {name: (side, n) for name, (side, n) in sides.items() if side is not None}
        pending = [name for name in sides if name not in decided]
        if not decided:
            words.append(f"{loss} not run over seeds yet")
            continue
        below = [name for name, (side, _) in decided.items() if side == "below"]
        if below:
            # the paper's own table may have it too (Fashion-MNIST eta 0.1: FL ahead of BL)
            papers = mine.set_index("difference").loc[below, "paper_difference"]
            too = ", as in the paper" if (papers < 0).all() else ""
            words.append(f"{loss} does not hold ({', '.join(below)} below zero{too})")
            continue
        word = (f"{loss} holds{' so far' if pending else ''}"
                if all(side == "above" for side, _ in decided.values())
                else f"{loss} cannot tell at n "
                f"{min(n for side, n in decided.values() if side == 'includes 0')}")
        words.append(word + (f" ({', '.join(pending)} not over seeds yet)" if pending else ""))
    return "; ".join(words)


def row_order(keys) -> list[tuple]:
    """(dataset, eta) keys in the paper's dataset order, then by eta."""
    order = list(DATASET_LABELS)
    return sorted(keys, key=lambda key: (order.index(key[0]) if key[0] in order else len(order), key))


def row_name(key: tuple) -> str:
    return f"{DATASET_LABELS.get(key[0], key[0])} η {key[1]:g}"


def summary_markdown(cell_table: pd.DataFrame, paired: pd.DataFrame, metric: str = "f1") -> str:
    """The README's digest of the comparison, one line per (dataset, eta) row: the paired
    BL − CE, PZ − CE and BL − best other baseline with their 95 % intervals and the paper's
    difference, the cells of ``metric`` outside the paper's ± 2σ, and the verdict in words."""
    rows = _of_metric(cell_table, metric)
    pairs = _of_metric(paired, metric)
    lines = ["| row | BL − CE (95 % CI) | PZ − CE (95 % CI) | BL − best other baseline (95 % CI) "
             f"| {METRICS[metric]} cells outside the paper's 2σ | verdict |", "|" + " --- |" * 6]
    for key in row_order(rows.groupby(["dataset", "eta"]).groups):
        mine = pairs[(pairs["dataset"] == key[0]) & (pairs["eta"] == key[1])] if not pairs.empty else pairs
        parts = []
        for comparison in ("BL − CE", "PZ − CE", BEST_BASELINE):
            found = mine[mine["comparison"] == comparison] if not mine.empty else mine
            if found.empty or found.iloc[0]["n"] == 0:   # not planned, or no records of a side
                parts.append("–")
                continue
            r = found.iloc[0]
            named = f"{r['difference'].split(' − ')[1]}: " if comparison == BEST_BASELINE else ""
            at = f" at {r['paper_at']}" if r["paper_at"] else ""
            parts.append(f"{named}{r['mean']:+.4f} {_interval(r['ci_low'], r['ci_high'])}, "
                         f"n {r['n']}; paper {_signed(r['paper_difference'])}{at}")
        cells_of_row = rows[(rows["dataset"] == key[0]) & (rows["eta"] == key[1])]
        outside = cells_of_row[cells_of_row["outside_2sigma"] == True]  # noqa: E712 (NaN: no cell)
        flagged = ", ".join(f"{r.column} {r.diff:+.4f}" for r in outside.itertuples()) or "none"
        lines.append(f"| {row_name(key)} | " + " | ".join(parts)
                     + f" | {flagged} | {verdict(mine) if not mine.empty else 'not run over seeds yet'} |")
    return "\n".join(lines) + "\n"


def write_seed_comparison(records: pd.DataFrame, out_dir: str | Path) -> str:
    """seed_comparison.{md,csv}, paired_differences.csv and seed_summary.md (the README's
    digest, F1) under ``out_dir`` from a ``tables.records_frame``; returns the Markdown (''
    when no record enters)."""
    frames = {metric: seed_frame(records, metric) for metric in METRICS}
    if frames["f1"].empty:
        return ""
    cell_table = pd.concat([cells(f, m) for m, f in frames.items()], ignore_index=True)
    paired = pd.concat([paired_differences(f, m) for m, f in frames.items()], ignore_index=True)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    cell_table.to_csv(out_dir / "seed_comparison.csv", index=False)
    paired.to_csv(out_dir / "paired_differences.csv", index=False)
    text = markdown(cell_table, paired)
    (out_dir / "seed_comparison.md").write_text(text)
    (out_dir / "seed_summary.md").write_text(summary_markdown(cell_table, paired))
    return text
