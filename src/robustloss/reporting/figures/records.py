"""Finding the records a figure needs, and saying which sweep makes them when they are missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from robustloss.records import CorruptRecordError, RecordStore, noise_kind, read_record


class MissingRecords(LookupError):
    """A figure's records are not in the results folder; the message says which sweep makes them."""


def frame(results_dir: str | Path) -> pd.DataFrame:
    """One row per record: id, folder, dataset, eta, noise (kind), realised (rate), loss, gamma,
    c, delay, variant (``tables.variant_of``: every result-affecting setting), detector, seed,
    dynamics, precision, recall, f1, balanced_accuracy, cohens_d, wasserstein."""
    from robustloss.reporting.tables import variant_of
    rows = []
    for paths, r in _records_with_folders(results_dir):
        s, m = r["settings"], r["metrics"]
        if r.get("noise", {}).get("source") == "human":
            continue
        rows.append({
            "id": r["id"], "folder": str(paths), "dataset": s["dataset"]["name"]
            + (f" (n={s['dataset']['subset']})" if s["dataset"].get("subset") else ""),
            "eta": s["noise"]["rate"], "noise": noise_kind(r),
            "realised": r.get("noise", {}).get("rate_realised", np.nan), "loss": s["loss"]["name"],
            "gamma": s["loss"]["params"].get("gamma"), "c": s["loss"]["params"].get("c"),
            "delay": s["loss"]["delay"], "variant": variant_of(r),
            "detector": s["detector"]["name"], "seed": s["seed"],
            "dynamics": r.get("dynamics", "none"), "created": r.get("created", ""),
            **{k: m.get(k, np.nan) for k in ("precision", "recall", "f1", "balanced_accuracy",
                                              "cohens_d", "wasserstein")},
        })
    return pd.DataFrame(rows)


def _records_with_folders(results_dir):
    """(folder, record) for every readable record under ``results_dir`` (one id may appear in
    several folders, e.g. with and without dynamics)."""
    for path in sorted(Path(results_dir).rglob("*.json")):
        try:
            yield path.parent, read_record(path)
        except CorruptRecordError:
            continue


def arrays(row) -> dict[str, np.ndarray]:
    return RecordStore(row["folder"]).load_arrays(row["id"])


def pick_dataset(records: pd.DataFrame, dataset: str | None, need: str) -> pd.DataFrame:
    """Rows of ``dataset`` (or of the dataset with most rows); MissingRecords naming ``need``."""
    if records.empty:
        raise MissingRecords(need)
    if dataset is not None:
        chosen = records[records["dataset"] == dataset]
        if chosen.empty:
            raise MissingRecords(f"no records of dataset {dataset!r}; {need}")
        return chosen
    return records[records["dataset"] == records["dataset"].value_counts().index[0]]


def pick_eta(records: pd.DataFrame, preferred: float) -> tuple[float, pd.DataFrame]:
    """The paper's noise rate when present, else the nearest one recorded."""
    etas = sorted(records["eta"].unique(), key=lambda e: (abs(e - preferred), e))
    return etas[0], records[records["eta"] == etas[0]]
