"""List the samples an experiment flagged as mislabelled, worst first.

    python -m robustloss.run dataset=arrays dataset.path=mine.npz loss=blurry results_dir=results/mine
    python -m robustloss.reporting.label_issues results/mine [--top 20]

For every record under the folder, writes ``<id>_label_issues.csv`` beside it: index,
given_label, predicted_label, p_given (out-of-fold probability of the given label),
p_predicted, label_quality (cleanlab's normalized margin: p_given minus the largest other
class's probability, rescaled to [0, 1]; low = likely wrong) and flagged, flagged rows
first, lowest quality first. AUM records (detector=aum) list index, given_label, aum
(area under the margin; low = likely wrong) and flagged instead, lowest AUM first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from cleanlab.rank import get_label_quality_scores

from robustloss.errors import UserError, cli
from robustloss.records import CorruptRecordError, RecordStore, find_records


def label_issues(noisy_labels: np.ndarray, probabilities: np.ndarray, flagged: np.ndarray,
                 sample_index: np.ndarray | None = None) -> pd.DataFrame:
    """noisy_labels int (N,), probabilities float (N, K), flagged bool (N,) -> one row per
    sample, flagged first, then by label quality ascending. ``sample_index`` (N,): each
    row's index in the dataset file (differs from the row with dataset.subset)."""
    probs = probabilities.astype(np.float64)
    probs /= probs.sum(axis=1, keepdims=True)
    frame = pd.DataFrame({
        "index": np.arange(len(noisy_labels)) if sample_index is None else sample_index,
        "given_label": noisy_labels,
        "predicted_label": probs.argmax(axis=1),
        "p_given": probs[np.arange(len(noisy_labels)), noisy_labels],
        "p_predicted": probs.max(axis=1),
        "label_quality": get_label_quality_scores(noisy_labels, probs, method="normalized_margin"),
        "flagged": flagged.astype(bool),
    })
    return frame.sort_values(["flagged", "label_quality"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def aum_issues(noisy_labels: np.ndarray, aum: np.ndarray, flagged: np.ndarray,
                sample_index: np.ndarray) -> pd.DataFrame:
    """One row per sample of an AUM record, flagged first, then by AUM ascending (samples
    never judged, e.g. held out, last)."""
    frame = pd.DataFrame({"index": sample_index, "given_label": noisy_labels, "aum": aum,
                          "flagged": flagged.astype(bool)})
    return frame.sort_values(["flagged", "aum"], ascending=[False, True], kind="stable",
                             na_position="last").reset_index(drop=True)


def issues_of(arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """The issue table of one record's arrays, whichever detector made it."""
    index = arrays.get("sample_index")
    if "probabilities" not in arrays:
        return aum_issues(arrays["noisy_labels"], arrays["aum"], arrays["flagged"],
                          np.arange(len(arrays["noisy_labels"])) if index is None else index)
    return label_issues(arrays["noisy_labels"], arrays["probabilities"], arrays["flagged"], index)


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
