"""Draw the paper's figures from the records under a results folder.

    python -m robustloss.figures <results dir> [--only 4,5] [--dataset digits] [--out DIR]

Writes <out>/figN_*.png (300 dpi), .pdf and .csv (the numbers behind the figure). A figure
whose records are missing is skipped with a line saying which sweep makes them; the others
are still drawn. Exit status 0 when at least one figure was drawn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robustloss.errors import UserError, cli
from robustloss.figures import FIGURES
from robustloss.figures.records import MissingRecords, frame
from robustloss.figures.style import save


def draw(results_dir: str | Path, only=None, dataset=None, out=None) -> dict[int, list[Path]]:
    """Draw the chosen figures; returns {number: written paths}; prints a line per figure."""
    out = Path(out) if out else Path(results_dir) / "figures"
    records = frame(results_dir) if Path(results_dir).exists() else None
    written = {}
    for number in only or sorted(FIGURES):
        stem, what, make = FIGURES[number]
        try:
            if records is None and number != 1:
                raise MissingRecords(f"{results_dir} does not exist")
            fig, data = make(records, dataset)
        except MissingRecords as missing:
            print(f"figure {number} ({what}): skipped, {missing}")
            continue
        paths = save(fig, out, stem)
        data.to_csv(out / f"{stem}.csv", index=False)
        written[number] = [*paths, out / f"{stem}.csv"]
        print(f"figure {number} ({what}): {paths[0]}")
    return written


@cli
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir")
    parser.add_argument("--only", help="comma list of figure numbers (default: all, 1-7)")
    parser.add_argument("--dataset", help="dataset of the records to draw (default: the most common)")
    parser.add_argument("--out", help="output folder (default: <results_dir>/figures)")
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
    written = draw(args.results_dir, only, args.dataset, args.out)
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
