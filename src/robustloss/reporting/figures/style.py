"""Shared look of the figures: a colour-blind-safe palette (Okabe & Ito 2008), paper-sized
fonts, one legend per figure, tight layout, 300 dpi PNG plus a vector PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from robustloss.reporting.paper import LOSS_COLUMNS  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
CLEAN, CORRUPTED = "#009E73", "#D55E00"   # green / vermillion (the paper: green / red)
LOSS_LABELS = {loss: column for loss, (column, _) in LOSS_COLUMNS.items()}
LOSS_ORDER = tuple(LOSS_COLUMNS)   # the paper's column order: CE, FL, GCE, ANL-CE, ANL-FL, BL, PZ


def loss_colour(loss: str) -> str:
    """One colour per loss in every panel; PZ in black (Okabe-Ito's yellow is hard to see on
    white)."""
    return PALETTE[7] if loss == "piecewise_zero" else PALETTE[LOSS_ORDER.index(loss)]
SYMBOLS = {"gamma": "γ", "c": "c"}


def swept_params(row) -> dict[str, float]:
    """The swept parameter of a record row's loss ({} for losses without one)."""
    name = LOSS_COLUMNS.get(row["loss"], (None, None))[1]
    return {name: row[name]} if name else {}


def loss_label(row, delay: bool = False) -> str:
    """``BL (γ=0.4)``, ``PZ (c=0.05)`` (with ``delay``: ``PZ (c=0.05, d=1)``), ``CE``."""
    parts = [f"{SYMBOLS[name]}={value:g}" for name, value in swept_params(row).items()]
    if delay and row["loss"] == "piecewise_zero":
        parts.append(f"d={row['delay']}")
    label = LOSS_LABELS[row["loss"]]
    return f"{label} ({', '.join(parts)})" if parts else label

RC = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
      "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False,
      "axes.spines.right": False, "figure.dpi": 100}


def new_figure(rows: int, cols: int, width: float = 7.0, height: float = 2.6, **kwargs):
    """A figure of rows x cols panels, ``width`` inches wide, ``height`` per row."""
    with plt.rc_context(RC):
        fig, axes = plt.subplots(rows, cols, figsize=(width, height * rows), squeeze=False,
                                 **kwargs)
    return fig, axes


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    """``stem``.png (300 dpi) and ``stem``.pdf under ``out_dir``; closes the figure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    with plt.rc_context(RC):
        fig.tight_layout()
        for path in paths:
            fig.savefig(path, dpi=300 if path.suffix == ".png" else None, bbox_inches="tight")
    plt.close(fig)
    return paths
