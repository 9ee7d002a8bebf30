"""Draw the paper's figures from the records under a results folder.

    robustloss figures <results dir> [--only 4,5] [--dataset digits] [--out DIR]
        [--noise symmetric|asymmetric|pairflip|instance|all]

Writes <out>/figN_*.png (300 dpi), .pdf and .csv (the numbers behind the figure). Figures 2-7
are drawn from the records of one noise kind (default: symmetric, the paper's, when present);
other kinds get their name in the file (fig4_f1_heatmap_asymmetric.png) and the title; Figure 8
compares the kinds. A figure whose records are missing is skipped with a line saying which
sweep makes them; the others are still drawn (robustloss.reporting.figures.draw). Exit status
0 when at least one figure was drawn.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robustloss.errors import UserError, cli
from robustloss.reporting.figures import FIGURES, draw


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
