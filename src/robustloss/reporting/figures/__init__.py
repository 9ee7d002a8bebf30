"""The paper's figures, drawn from our own records (the command: ``robustloss figures -h``).

Each figure is a function (records frame, dataset) -> (matplotlib figure, the numbers behind
it as a DataFrame); ``draw`` writes the chosen ones to <results>/figures/ as PNG (300 dpi),
PDF and CSV.

    draw("results/demo", only=[1, 4])   # {figure number: the files written}
"""

from __future__ import annotations

from pathlib import Path

from robustloss.reporting.figures import (
    aum_histograms,
    dynamics,
    grids,
    loss_shapes,
    noise_kinds,
    seed_rows,
)
from robustloss.reporting.figures.records import MissingRecords, frame
from robustloss.reporting.figures.style import save

# number -> (file stem, what it shows, function)
FIGURES = {
    1: ("fig1_loss_shapes", "BL over p_y for several γ, PZ for several c",
        lambda records, dataset: loss_shapes.make()),
    2: ("fig2_dynamics", "p_y and dL/dp_y per epoch, clean vs corrupted (truncated)", dynamics.make2),
    3: ("fig3_precision_recall", "precision and recall against γ and c; Focal dotted",
        grids.precision_recall),
    4: ("fig4_f1_heatmap", "F1 heatmap: baselines, BL over γ, PZ over c", grids.heatmap),
    5: ("fig5_delay", "PZ F1 against delay d", grids.delays),
    6: ("fig6_aum_histograms", "AUM of clean vs corrupted samples", aum_histograms.make),
    7: ("fig7_dynamics_full", "Figure 2 without truncated y-limits", dynamics.make7),
    8: ("fig8_f1_by_noise_kind", "F1 against η, a line per loss, a panel per noise kind",
        noise_kinds.make),
    9: ("fig9_table1_rows_over_seeds", "Table 1 / 2 rows by η, each seed a ring over the paper's ± 2σ",
        seed_rows.make),
}
# Figures drawn from the records of one noise kind at a time (--noise); 8 compares the kinds.
PER_KIND = (2, 3, 4, 5, 6, 7)


def of_kind(records, kind: str, dataset: str | None):
    """The records of one noise kind; other kinds than symmetric carry it in the dataset
    label, so titles say which noise a figure shows."""
    chosen = records[records["noise"] == kind]
    if dataset is not None:
        chosen = chosen[chosen["dataset"] == dataset]
    if kind != "symmetric":
        chosen = chosen.assign(dataset=chosen["dataset"] + f", {kind} noise")
    return chosen, (None if dataset is None else f"{dataset}, {kind} noise"
                    if kind != "symmetric" else dataset)


def kinds_to_draw(records, noise: str | None) -> list[str]:
    """The kinds to draw Figures 2-7 for: ``noise`` (a kind, a comma list or ``all``), by
    default symmetric when present, else the most common kind."""
    if records is None or records.empty:
        return ["symmetric"]
    present = list(records["noise"].value_counts().index)
    if noise == "all":
        return sorted(present, key=lambda k: (k != "symmetric", k))
    if noise:
        return noise.split(",")
    return ["symmetric"] if "symmetric" in present else present[:1]


def draw(results_dir: str | Path, only=None, dataset=None, out=None,
         noise: str | None = None) -> dict[int, list[Path]]:
    """Draw the chosen figures and write each as PNG, PDF and CSV; a figure whose records are
    missing is skipped with a line naming the sweep that makes them.

    only: figure numbers (default: all of ``FIGURES``); dataset: whose records (default: the
    most common); out: the folder (default: <results_dir>/figures); noise: the kind(s) Figures
    2-7 are drawn for, a comma list or ``all`` (default: symmetric when present). Returns
    {number: written paths}; prints a line per figure."""
    out = Path(out) if out else Path(results_dir) / "figures"
    records = frame(results_dir) if Path(results_dir).exists() else None
    written = {}
    jobs = []
    for number in only or sorted(FIGURES):
        kinds = kinds_to_draw(records, noise) if number in PER_KIND else [None]
        jobs += [(number, kind) for kind in kinds]
    for number, kind in jobs:
        stem, what, make = FIGURES[number]
        if kind not in (None, "symmetric"):
            stem, what = f"{stem}_{kind}", f"{what}; {kind} noise"
        try:
            if records is None and number != 1:
                raise MissingRecords(f"{results_dir} does not exist")
            chosen, name = (records, dataset) if kind is None or records is None else \
                of_kind(records, kind, dataset)
            fig, data = make(chosen, name)
        except MissingRecords as missing:
            print(f"figure {number} ({what}): skipped, {missing}")
            continue
        paths = save(fig, out, stem)
        data.to_csv(out / f"{stem}.csv", index=False)
        written.setdefault(number, []).extend([*paths, out / f"{stem}.csv"])
        print(f"figure {number} ({what}): {paths[0]}")
    return written
