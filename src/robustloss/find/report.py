"""A self-contained HTML report of find_label_issues' result (images embedded as PNG data
URIs): the estimated noise rate, how many were flagged, flagged count per class, a given-vs-
suggested table of the flagged samples, and the most suspicious samples with their given
and suggested labels (a grid of images, or a table for feature vectors)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
import torch

# how the report names a loss (the name in brackets is the one --loss takes)
LOSS_NAMES = {"ce": "cross-entropy", "focal": "Focal Loss", "gce": "Generalized Cross-Entropy",
              "anl_ce": "ANL-CE", "anl_fl": "ANL-FL", "blurry": "Blurry Loss",
              "piecewise_zero": "Piecewise-zero Loss"}


def loss_name(name: str) -> str:
    return LOSS_NAMES.get(name, name)


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
.summary { font-size: 1.15em; background: #f3f5f8; padding: .8em 1em; border-radius: 6px; }
.how { font-size: .8em; color: #444; margin: .5em 0 0; }
table { border-collapse: collapse; margin: .5em 0; }
td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #eef; }
.grid { display: flex; flex-wrap: wrap; gap: 10px; }
.cell { width: 150px; text-align: center; font-size: .8em; border: 1px solid #ddd;
        border-radius: 4px; padding: 4px; }
.cell img { width: 112px; height: 112px; image-rendering: pixelated; background: #000; }
.flagged { border-color: #c33; box-shadow: 0 0 0 1px #c33; }
.given { color: #b22; } .suggested { color: #175; }
.note { color: #666; font-size: .9em; }
"""


def thumbnail(image: torch.Tensor) -> str:
    """uint8 (C, H, W) -> a PNG data URI."""
    from PIL import Image

    array = image.numpy()
    picture = Image.fromarray(array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def flagged_per_class(table: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    counts = table.groupby("given_label").agg(samples=("flagged", "size"), flagged=("flagged", "sum"))
    counts = counts.reindex(class_names, fill_value=0)
    counts["flagged %"] = (100 * counts.flagged / counts.samples.clip(lower=1)).round(1)
    return counts.rename_axis(index=None, columns="given class")


def confusion(table: pd.DataFrame, class_names: list[str]) -> pd.DataFrame:
    """Flagged samples: rows = given class, columns = suggested class (every class)."""
    flagged = table[table.flagged]
    frame = pd.crosstab(flagged.given_label, flagged.suggested_label)
    frame = frame.reindex(index=class_names, columns=class_names, fill_value=0)
    return frame.rename_axis(index=None, columns="given \\ suggested")


def review_cells(table: pd.DataFrame, inputs: torch.Tensor | None, review: int) -> str:
    top = table.head(review)
    if inputs is None:
        columns = ["rank", "sample", "given_label", "suggested_label", "p_given", "p_suggested",
                   "flagged"]
        return top[columns].to_html(index=False, float_format="%.3f")
    cells = []
    for row in top.itertuples():
        cells.append(
            f'<div class="cell{" flagged" if row.flagged else ""}">'
            f'<img src="{thumbnail(inputs[row.index])}" alt="{html.escape(str(row.sample))}">'
            f'<div>#{row.rank} {"flagged" if row.flagged else ""}</div>'
            f'<div class="given">given: {html.escape(str(row.given_label))} ({row.p_given:.2f})</div>'
            f'<div class="suggested">suggested: {html.escape(str(row.suggested_label))} '
            f'({row.p_suggested:.2f})</div>'
            f'<div class="note">{html.escape(str(row.sample))}</div></div>')
    return '<div class="grid">' + "".join(cells) + "</div>"


def comparison(table: pd.DataFrame, inputs: torch.Tensor | None, shown: int = 24) -> str:
    """What the robust loss flags beyond (and short of) plain cross-entropy on the same
    folds: counts, then the samples only one of them flags, most suspicious first."""
    if "flagged_ce" not in table:
        return ""
    loss = html.escape(loss_name(table.attrs["loss"]))
    ours, ce = table.flagged, table.flagged_ce
    only_ours, only_ce = table[ours & ~ce], table[ce & ~ours].sort_values("rank_ce")
    parts = [f"""<h2>What {loss} adds over cross-entropy</h2>
<p>Cross-entropy + Confident Learning on the same folds flags {int(ce.sum())}; both flag
<b>{int((ours & ce).sum())}</b>, only {loss} <b>{len(only_ours)}</b>, only cross-entropy
<b>{len(only_ce)}</b>. Columns flagged_ce and rank_ce in label_issues.csv.</p>"""]
    for title, rows in ((f"Flagged only by {loss}", only_ours),
                        ("Flagged only by cross-entropy", only_ce)):
        if len(rows):
            count = f"{len(rows)}" if len(rows) <= shown else f"{len(rows)}; the first {shown}"
            parts.append(f"<h3>{title} ({count})</h3>"
                         + review_cells(rows, inputs, shown))
    return "\n".join(parts)


def choice_text(attrs: dict) -> str:
    """Why an automatic gamma / c has its value (the rule's own reason,
    robustloss.find.choose.choose_parameter); "" for a value given on the command line."""
    choice = attrs.get("choice")
    return choice["reason"] if choice else ""


def passes_text(passes: int) -> str:
    return f"{passes} cross-validated pass{'es' if passes != 1 else ''}"


def summary_line(table: pd.DataFrame) -> str:
    n, m = table.attrs["num_flagged"], table.attrs["num_samples"]
    return f"{n} of {m} flagged ({100 * n / m:.1f}%)"


def write_report(table: pd.DataFrame, path: str | Path, inputs: torch.Tensor | None = None,
                 review: int = 48) -> Path:
    """Write the HTML report of ``table`` (find_label_issues' result) to ``path``.
    ``inputs``: the uint8 images (N, C, H, W) in input order, for the grid; None for
    feature vectors."""
    attrs = table.attrs
    params = ", ".join(f"{k} = {v:g}" for k, v in attrs["loss_params"].items())
    settings = attrs["settings"]
    eta = attrs["estimated_noise_rate"]
    how = choice_text(attrs)
    body = f"""
<h1>Label issues in {html.escape(attrs['source'])}</h1>
<div class="summary"><b>{summary_line(table)}</b> &middot; estimated noise rate
<b>{100 * eta:.1f}%</b> &middot; {html.escape(loss_name(attrs['loss']))}{f', {params}' if params else ''}
{'(automatic)' if attrs.get('choice') else ''}
&middot; {passes_text(attrs.get('passes', 1))}
{f'<p class="how">{html.escape(how)}</p>' if how else ''}</div>
<p class="note">Flagged: Confident Learning (cleanlab, filter_by="both") on out-of-fold
probabilities ({html.escape(attrs['model'])}, protocol {html.escape(settings['protocol'])});
{html.escape(attrs['kind'])}, {len(attrs['class_names'])} classes, seed {settings['seed']}. Rank orders all
samples by cleanlab's label quality (normalized margin), most suspicious first, whether
flagged or not. The corruption is unknown, so there is no
precision or recall here: look at the samples.</p>
<h2>The {min(review, len(table))} most suspicious samples</h2>
{review_cells(table, inputs, review)}
{comparison(table, inputs)}
<h2>Flagged per given class</h2>
{flagged_per_class(table, attrs['class_names']).to_html()}
<h2>Flagged samples: given class (rows) vs suggested class (columns)</h2>
{confusion(table, attrs['class_names']).to_html() if attrs['num_flagged'] else '<p>none flagged</p>'}
"""
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>robustloss: "
            f"{html.escape(summary_line(table))}</title><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>")
    path = Path(path)
    path.write_text(page, encoding="utf-8")
    return path

