"""A row of the paper's Table 1 (or Table 2) as a plan of experiments, read from the
published table itself, not typed in: the row's best γ and c, its strongest baseline.

    row_plan("mnist", 0.4)            # Table 1's row: CE, BL and PZ at the row's best γ / c
                                      # and the strongest other baseline over 3 seeds, the
                                      # other baselines on seed 0
    row_plan("mnist", 0.2, "table2")  # Table 2's own γ / c for that row, 3 seeds

Each job is a list of Hydra overrides (``robustloss run`` takes them as they are), ordered
so that an interrupted queue has the most useful records first: seed by seed, CE, BL, PZ and
the strongest baseline, then the remaining baselines.
"""

from __future__ import annotations

import pandas as pd

from robustloss.reporting.paper import DATASET_LABELS, LOSS_COLUMNS, published

ROW_TABLES = {"table1": "table1_f1", "table2": "table2_balanced_accuracy"}
BASELINES = ("FL", "GCE", "ANL-CE", "ANL-FL")  # CE is always run in full
_OURS = {column: name for name, (column, _) in LOSS_COLUMNS.items()}


def paper_row(dataset: str, eta: float, table: str = "table1") -> pd.DataFrame:
    """The published cells of one row (columns as in ``published()``); ValueError naming
    what the paper does not have."""
    if table not in ROW_TABLES:
        raise ValueError(f"table must be one of {', '.join(ROW_TABLES)}; got {table!r}")
    paper = published()
    label = DATASET_LABELS.get(dataset)
    row = paper[(paper["table"] == ROW_TABLES[table]) & (paper["dataset"] == label)
                & (paper["eta"].map(lambda e: e == eta))]
    if row.empty:
        rates = sorted({e for e in paper.loc[paper["dataset"] == label, "eta"] if e != "human"})
        raise ValueError(f"the paper's {table} has no row for dataset {dataset!r} at eta {eta}"
                         + (f"; its rates: {', '.join(map(str, rates))}" if rates else ""))
    return row


def strongest_baseline(row: pd.DataFrame) -> str:
    """The paper column of the best of FL, GCE, ANL-CE, ANL-FL by the row's published mean
    (the first in that order on a tie)."""
    means = row.set_index("loss")["mean"]
    return max(BASELINES, key=lambda column: (means[column], -BASELINES.index(column)))


def _overrides(dataset: str, eta: float, column: str, row: pd.DataFrame, seed: int) -> list[str]:
    cell = row.set_index("loss").loc[column]
    params = [] if pd.isna(cell["param"]) else [f"loss.{cell['param']}={cell['param_value']:g}"]
    return [f"dataset={dataset}", f"noise.rate={eta:g}", f"loss={_OURS[column]}", *params,
            f"seed={seed}"]


def row_plan(dataset: str, eta: float, table: str = "table1", seeds: int = 3) -> list[list[str]]:
    """The experiments of one row. ``table1``: CE, BL (best γ), PZ (best c) and the strongest
    other baseline on seeds 0..seeds-1, FL, GCE, ANL-CE and ANL-FL on seed 0. ``table2``: BL
    and PZ at Table 2's own γ / c, seeds 0..seeds-1."""
    row = paper_row(dataset, eta, table)
    if table == "table2":
        full, once = ["BL", "PZ"], []
    else:
        best = strongest_baseline(row)
        full, once = ["CE", "BL", "PZ", best], [c for c in BASELINES if c != best]
    jobs = [_overrides(dataset, eta, column, row, seed) for seed in range(seeds) for column in full]
    return jobs + [_overrides(dataset, eta, column, row, 0) for column in once]
