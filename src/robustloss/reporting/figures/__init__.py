"""The paper's figures, drawn from our own records (see ``python -m robustloss.reporting.figures -h``).

Each figure is a function (records frame, dataset) -> (matplotlib figure, the numbers behind
it as a DataFrame); both are written to <results>/figures/ as PNG (300 dpi), PDF and CSV.
"""

from __future__ import annotations

from robustloss.reporting.figures import (
    aum_histograms,
    dynamics,
    grids,
    loss_shapes,
    noise_kinds,
    seed_rows,
)

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
    9: ("fig9_table1_rows_over_seeds", "per loss, each seed a dot over the paper's mean ± 2σ",
        seed_rows.make),
}
# Figures drawn from the records of one noise kind at a time (--noise); 8 compares the kinds.
PER_KIND = (2, 3, 4, 5, 6, 7)
