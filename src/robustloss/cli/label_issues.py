"""List the samples an experiment flagged as mislabelled, worst first.

    robustloss run dataset=arrays dataset.path=mine.npz loss=blurry results_dir=results/mine
    robustloss label-issues results/mine [--top 20]

For every record under the folder, writes ``<id>_label_issues.csv`` beside it: index,
given_label, predicted_label, p_given (out-of-fold probability of the given label),
p_predicted, label_quality (cleanlab's normalized margin: p_given minus the largest other
class's probability, rescaled to [0, 1]; low = likely wrong) and flagged, flagged rows
first, lowest quality first. AUM records (detector=aum) list index, given_label, aum
(area under the margin; low = likely wrong) and flagged instead, lowest AUM first
(robustloss.reporting.label_issues).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from robustloss.errors import UserError, cli
from robustloss.records import CorruptRecordError, RecordStore, find_records
from robustloss.reporting.label_issues import issues_of


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="robustloss label-issues", description=__doc__.split("\n\n")[0])
    parser.add_argument("results_dir")
    parser.add_argument("--top", type=int, default=10, help="rows to print per record")
    args = parser.parse_args(argv)
    if not Path(args.results_dir).is_dir():
        raise UserError(f"results folder {args.results_dir} does not exist")
    records = find_records(args.results_dir)
    if not records:
        raise UserError(f"no records found under {args.results_dir}")
    for record in records:
        folder = Path(args.results_dir)
        path = next(folder.rglob(f"{record['id']}.json")).parent
        try:
            arrays = RecordStore(path).load_arrays(record["id"])
        except CorruptRecordError as err:
            raise UserError(f"{err}; re-run the experiment with force=true") from err
        table = issues_of(arrays)
        out = path / f"{record['id']}_label_issues.csv"
        table.to_csv(out, index=False)
        s = record["settings"]
        print(f"{s['dataset']['name']} {s['loss']['name']} {s['loss']['params']}: "
              f"{int(table['flagged'].sum())} of {len(table)} flagged -> {out}")
        print(table.head(args.top).to_string(index=False), end="\n\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
