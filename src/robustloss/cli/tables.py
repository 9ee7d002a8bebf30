"""The paper's tables from a folder of records: Markdown to stdout; CSV, Markdown and LaTeX
files under <results>/tables/.

    robustloss tables results/demo            # Markdown to stdout, files beside
    robustloss tables results/table1 --paper  # with the paper's value and the difference

Rows dataset x eta (x noise kind, with the realised rate, when the records hold more than
the paper's symmetric noise), columns CE, FL, GCE, ANL-CE, ANL-FL, BL (best gamma), PZ (best
c); cells mean +- std over seeds; best cell bold+underlined, second bold
(robustloss.reporting.tables).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from robustloss.errors import UserError, cli
from robustloss.reporting.tables import write_tables


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="robustloss tables", description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir", help="folder holding the records (searched recursively)")
    parser.add_argument("--out", help="where to write the tables (default: <results_dir>/tables)")
    parser.add_argument("--paper", action="store_true",
                        help="put the paper's published value and the difference beside each cell "
                             "(† = outside the paper's ±2σ)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if not Path(args.results_dir).is_dir():
        raise UserError(f"results folder {args.results_dir} does not exist")
    sys.stdout.write(write_tables(args.results_dir, args.out, args.paper))


if __name__ == "__main__":
    main()
