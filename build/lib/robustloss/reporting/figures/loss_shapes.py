"""Figure 1: Blurry Loss over p_y for several gamma and Piecewise-zero Loss for several c
(CE is gamma = 0 and c = 0), drawn from the loss modules themselves."""

from __future__ import annotations

import pandas as pd
import torch

from robustloss.components import losses
from robustloss.reporting.figures.style import PALETTE, new_figure

GAMMAS = (0.0, 0.2, 0.4, 0.6, 0.8)
CS = (0.0, 0.05, 0.1, 0.2)


def curves(points: int = 400) -> pd.DataFrame:
    """Columns: loss (blurry / piecewise_zero), param (gamma / c), value, p_y, L."""
    p = torch.linspace(1e-3, 1.0, points, dtype=torch.float64)
    log_probs = torch.stack([p.log(), torch.log1p(-p).clamp_min(-1e6)], dim=1)
    target = torch.zeros(points, dtype=torch.long)
    rows = []
    for name, param, values in (("blurry", "gamma", GAMMAS), ("piecewise_zero", "c", CS)):
        for value in values:
            loss = losses.build(name, 2, **{param: value})
            lv = loss.from_log_probs(log_probs, target).numpy()
            rows.append(pd.DataFrame({"loss": name, "param": param, "value": value,
                                      "p_y": p.numpy(), "L": lv}))
    return pd.concat(rows, ignore_index=True)


def draw(data: pd.DataFrame):
    fig, axes = new_figure(1, 2, height=2.8)
    titles = {"blurry": r"Blurry Loss $-p_y^{\gamma} \log p_y$",
              "piecewise_zero": r"Piecewise-zero Loss (0 for $p_y \leq c$)"}
    for ax, (name, part) in zip(axes[0], data.groupby("loss", sort=False), strict=True):
        param = part["param"].iloc[0]
        symbol = "γ" if param == "gamma" else "c"
        for i, (value, curve) in enumerate(part.groupby("value")):
            label = f"{symbol} = {value:g}" + (" (CE)" if value == 0 else "")
            ax.plot(curve["p_y"], curve["L"], color=PALETTE[i], lw=1.6, label=label,
                    ls="--" if value == 0 else "-")
        ax.set(title=titles[name], xlabel="$p_y$", ylabel="loss", xlim=(0, 1), ylim=(0, 4))
        ax.legend(frameon=False)
    return fig


def make(results_dir=None, dataset=None):
    data = curves()
    return draw(data), data[data["p_y"].isin(data["p_y"].unique()[::20])]


NEEDS = "nothing: drawn from the loss functions"
