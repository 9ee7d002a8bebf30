"""Records -> the paper's tables: rows dataset x eta (x noise kind, with the realised rate,
when the records hold more than the paper's symmetric noise), columns CE, FL, GCE, ANL-CE, ANL-FL,
BL (best gamma), PZ (best c); cells mean +- std over seeds; best cell bold+underlined,
second bold.

    write_tables("results/demo")                 # the command: robustloss tables results/demo
    write_tables("results/table1", paper=True)   # with the paper's value and the difference
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pandas as pd

from robustloss.errors import UserError
from robustloss.records import find_records, noise_kind
from robustloss.reporting.paper import LOSS_COLUMNS, attach_published
from robustloss.reporting.provenance import provenance_frame, provenance_line
from robustloss.reporting.seed_statistics import write_seed_comparison

log = logging.getLogger(__name__)

COLUMNS = LOSS_COLUMNS  # loss name -> (paper column, swept parameter)
METRICS = {"f1": "F1", "balanced_accuracy": "balanced accuracy"}
# what `write_tables(..., paper=True)` writes that the manual publishes in docs/tables/
PUBLISHED_CSVS = ("seed_comparison.csv", "paired_differences.csv", "provenance.csv")
SYMBOLS = {"gamma": "γ", "c": "c", "q": "q", "delay": "d"}
LATEX = {"±": r"$\pm$", "γ": r"$\gamma$", "Δ": r"$\Delta$", "·": r"$\cdot$", "†": r"$^\dagger$",
         "–": "--"}


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}" if key != "params" else prefix.rstrip(".")
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}." if name else ""))
        else:
            flat[name] = value
    return flat


def variant_of(record: dict) -> str:
    """JSON of what sets a record apart within its table cell: the loss parameters and delay,
    plus every other result-affecting setting (train.lr, model, folds, ...) so that records
    made with different settings are never averaged together."""
    loss = record["settings"]["loss"]
    variant = dict(loss["params"], delay=loss["delay"])
    for key, value in _flatten(record.get("identity", {})).items():
        if key.split(".")[0] not in ("dataset", "seed", "loss") and key not in (
                "noise.rate", "noise.kind", "detector.name"):
            variant[key] = value
    return json.dumps(variant, sort_keys=True, default=str)


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record: dataset, eta, noise (kind), realised (rate), loss, variant (its
    parameters), detector, seed, metrics, seconds (the run's wall time). ``variant``: see
    ``variant_of``."""
    rows = []
    for r in records:
        s = r["settings"]
        rows.append({
            "dataset": s["dataset"]["name"] + (f" (n={s['dataset']['subset']})"
                                               if s["dataset"].get("subset") else ""),
            "eta": "human" if r.get("noise", {}).get("source") == "human" else s["noise"]["rate"],
            "noise": noise_kind(r), "realised": r.get("noise", {}).get("rate_realised", math.nan),
            "loss": s["loss"]["name"], "variant": variant_of(r),
            "detector": s["detector"]["name"], "seed": s["seed"], "id": r["id"],
            "created": r.get("created", ""),
            "seconds": r.get("timings", {}).get("total_seconds", math.nan),
            **{m: r["metrics"].get(m, math.nan) for m in METRICS},
        })
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    # Two records for one cell and seed (other settings, or an older version of the pipeline)
    # would count as two seeds: keep the newest and say so.
    keys = ["detector", "dataset", "noise", "eta", "loss", "variant", "seed"]
    frame = frame.sort_values("created")
    duplicated = frame.duplicated(keys, keep="last")
    if duplicated.any():
        log.warning("%d record(s) share a table cell and seed with a newer one and are left out: %s",
                    duplicated.sum(), ", ".join(frame.loc[duplicated, "id"][:5])
                    + (", ..." if duplicated.sum() > 5 else ""))
    return frame[~duplicated].reset_index(drop=True)


def _variant_label(variant: str, keys: list[str]) -> str:
    values = json.loads(variant)
    return ", ".join(f"{SYMBOLS.get(k, k)}={values.get(k)}" for k in keys)


def summarise(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per (detector, dataset, noise kind, eta, paper column): mean, std, n over seeds
    of the best variant (by mean), the realised noise rate (mean over the row's records);
    ``choice`` names the parameters that differ between variants."""
    row_keys = ["detector", "dataset", "noise", "eta"]
    realised = frame.groupby(row_keys)["realised"].mean()
    stats = (frame.groupby([*row_keys, "loss", "variant"])[metric]
             .agg(mean="mean", std="std", n="count").reset_index())
    out = []
    for (det, ds, kind, eta, loss), group in stats.groupby([*row_keys, "loss"]):
        best = group.sort_values("mean", ascending=False).iloc[0]
        params = [json.loads(v) for v in group["variant"]]
        varying = sorted({k for p in params for k in p if len({str(q.get(k)) for q in params}) > 1})
        swept = COLUMNS.get(loss, (None, None))[1]
        if swept and swept not in varying:
            varying = [swept, *varying]
        out.append({
            "detector": det, "dataset": ds, "noise": kind, "eta": eta,
            "realised": realised[(det, ds, kind, eta)],
            "column": COLUMNS.get(loss, (loss, None))[0],
            "mean": best["mean"], "std": best["std"], "n": int(best["n"]),
            "choice": _variant_label(best["variant"], varying), "variants": len(group),
        })
    summary = pd.DataFrame(out)
    if summary.empty:
        return summary
    # ranked by the value as printed (3 decimals): equal printed values get equal marks
    summary["rank"] = (summary.assign(shown=summary["mean"].round(3))
                       .groupby(row_keys)["shown"]
                       .rank(ascending=False, method="dense").fillna(0).astype(int))
    return summary


def _eta_label(row: pd.Series) -> str:
    """eta as set, with the realised rate where the kind does not realise eta itself."""
    if row["noise"] in ("symmetric", "human") or pd.isna(row["realised"]):
        return str(row["eta"])
    return f"{row['eta']} (realised {row['realised']:.2f})"


def _cell(row: pd.Series, fmt: str) -> str:
    value = f"{row['mean']:.3f}" + ("" if row["n"] < 2 else f" ± {row['std']:.3f}")
    if row["choice"]:
        value += f" ({row['choice']})"
    if not pd.isna(row.get("paper_mean", float("nan"))):
        param = f" ({row['paper_param']})" if row["paper_param"] else ""
        flag = " †" if row["outside_2sigma"] else ""
        value += f" · paper {row['paper_mean']:.3f}{param}, Δ {row['diff']:+.3f}{flag}"
    if fmt == "latex":
        for text, tex in LATEX.items():
            value = value.replace(text, tex)
        marks = {1: r"\textbf{\underline{%s}}", 2: r"\textbf{%s}"}
    else:
        marks = {1: "**<u>%s</u>**", 2: "**%s**"}
    return marks.get(row["rank"], "%s") % value


def pivot(summary: pd.DataFrame, fmt: str = "markdown") -> pd.DataFrame:
    """Wide table (rows dataset x eta, or dataset x noise kind x eta when there are several
    kinds; paper columns) of formatted cells for one detector."""
    order = [c for c, _ in COLUMNS.values() if c in set(summary["column"])]
    order += sorted(set(summary["column"]) - set(order))
    cells = summary.assign(cell=summary.apply(_cell, axis=1, fmt=fmt),
                           eta=summary.apply(_eta_label, axis=1))
    kinds = sorted(set(cells["noise"]), key=lambda k: (k != "symmetric", k))  # the paper's first
    cells["noise"] = pd.Categorical(cells["noise"], categories=kinds, ordered=True)
    index = ["dataset", "noise", "eta"] if len(kinds) > 1 else ["dataset", "eta"]
    wide = cells.pivot(index=index, columns="column", values="cell")
    wide = wide.reindex(columns=order).fillna("--" if fmt == "latex" else "–").reset_index()
    return wide.astype({"noise": str}) if "noise" in wide else wide


def long_frame(records: list[dict]) -> pd.DataFrame:
    """Every record as one flat row (settings.*, metrics.*, timings.*, ...) for own analysis."""
    keep = ("id", "settings", "metrics", "timings", "noise", "data", "device", "created")
    return pd.json_normalize([{k: r[k] for k in keep if k in r} for r in records])


def write_tables(results_dir: str | Path, out_dir: str | Path | None = None,
                 paper: bool = False) -> str:
    """Write CSV / Markdown / LaTeX tables for every detector and metric, records.csv (one
    row per record) and provenance.csv (what made each record: commit, source state, CPU);
    return the Markdown, opened by the records' provenance line. ``paper``: add the paper's
    value, the difference, and † where we are outside the paper's +-2 sigma, and the comparison over seeds
    (seed_comparison.md/.csv, paired_differences.csv: robustloss.reporting.seed_statistics)."""
    found = find_records(results_dir)
    records = [r for r in found if r["metrics"].get("n_corrupted", 1) > 0]
    if found and not records:
        raise UserError(f"the records under {results_dir} have no known label corruption "
                        "(noise.rate=0 on labels as given): nothing to score; list what they "
                        f"flag with `robustloss label-issues {results_dir}`")
    frame = records_frame(records)
    if frame.empty:
        raise UserError(f"no records found under {results_dir}")
    out_dir = Path(out_dir or Path(results_dir) / "tables")
    out_dir.mkdir(parents=True, exist_ok=True)
    long_frame(records).to_csv(out_dir / "records.csv", index=False)
    origins = provenance_frame(records)
    origins.to_csv(out_dir / "provenance.csv", index=False)
    sections = [f"Records: {provenance_line(origins)}\n"]
    for metric, title in METRICS.items():
        summary = summarise(frame, metric)
        if paper:
            summary = attach_published(summary, metric)
        for detector, part in summary.groupby("detector"):
            stem = f"{metric}_{detector}"
            part.to_csv(out_dir / f"{stem}.csv", index=False)
            markdown = pivot(part).to_markdown(index=False, disable_numparse=True)
            (out_dir / f"{stem}.md").write_text(markdown + "\n")
            (out_dir / f"{stem}.tex").write_text(
                pivot(part, "latex").to_latex(index=False, escape=False))
            seeds = sorted(set(part["n"]))
            sections.append(
                f"### {title} ({detector}), mean ± std over {'/'.join(map(str, seeds))} seed(s)\n\n"
                f"{markdown}\n")
    if paper:
        over_seeds = write_seed_comparison(frame, out_dir)
        if over_seeds:
            sections.append("## Over seeds, against the paper's statistics (Welch's t-test; "
                            "paired differences with 95 % CI)\n\n" + over_seeds)
    return "\n".join(sections)

