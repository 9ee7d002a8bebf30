"""Draw the paper's figures from the records under a results folder.

    python -m robustloss.reporting.figures <results dir> [--only 4,5] [--dataset digits] [--out DIR]
        [--noise symmetric|asymmetric|pairflip|instance|all]

Writes <out>/figN_*.png (300 dpi), .pdf and .csv (the numbers behind the figure). Figures 2-7
are drawn from the records of one noise kind (default: symmetric, the paper's, when present);
other kinds get their name in the file (fig4_f1_heatmap_asymmetric.png) and the title; Figure 8
compares the kinds. A figure
whose records are missing is skipped with a line saying which sweep makes them; the others
are still drawn. Exit status 0 when at least one figure was drawn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robustloss.errors import UserError, cli
from robustloss.reporting.figures import FIGURES, PER_KIND
from robustloss.reporting.figures.records import MissingRecords, frame
from robustloss.reporting.figures.style import save


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


def noise_kinds(records, noise: str | None) -> list[str]:
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
    """Draw the chosen figures; returns {number: written paths}; prints a line per figure."""
    out = Path(out) if out else Path(results_dir) / "figures"
    records = frame(results_dir) if Path(results_dir).exists() else None
    written = {}
    jobs = []
    for number in only or sorted(FIGURES):
        kinds = noise_kinds(records, noise) if number in PER_KIND else [None]
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


@cli
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="robustloss figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir")
    parser.add_argument("--only", help="comma list of figure numbers (default: all, 1-7)")
    parser.add_argument("--dataset", help="dataset of the records to draw (default: the most common)")
    parser.add_argument("--out", help="output folder (default: <results_dir>/figures)")
    parser.add_argument("--noise", help="noise kind(s) for Figures 2-7: symmetric, asymmetric, "
                        "pairflip, instance, a comma list or all (default: symmetric when present)")
    args = parser.parse_args(argv)
    only = None
    if args.only:
        try:
            only = [int(n) for n in args.only.split(",")]
        except ValueError:
            only = [-1]
        if not set(only) <= set(FIGURES):
            parser.error(f"--only takes figure numbers from {sorted(FIGURES)}, got {args.only!r}")
    if not Path(args.results_dir).is_dir():
        raise UserError(f"results folder {args.results_dir} does not exist")
    written = draw(args.results_dir, only, args.dataset, args.out, args.noise)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
