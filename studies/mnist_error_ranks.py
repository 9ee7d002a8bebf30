"""Where each run of find-issues on the MNIST test set ranks the 15 MNIST test images that
reviewers confirmed as label errors (Northcutt et al. 2021): one row per confirmed
error, one column per run (its rank among the 10,000, most suspicious first, and the
probability the run's model gives the given label), and how many of the 15 each run and
the best of all runs put in the 100 most suspicious. Reads the runs' label_issues CSVs; a
CSV with cross-entropy's comparison (rank_ce) adds that run's CE column.

    ROBUSTLOSS_DATA=../shared/data python studies/mnist_error_ranks.py \\
        paper=results/find_issues_benchmark/held_out/mnist_paper.csv \\
        strong=results/find_issues_benchmark/held_out/mnist_strong.csv \\
        [--top 100] [--out studies/measurements/mnist_test_set_error_ranks.md]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from find_issues_benchmark import read_review


def ranks(runs: dict[str, pd.DataFrame], reviewed: pd.DataFrame) -> pd.DataFrame:
    """One row per confirmed error: its given label, the label Confident Learning guessed
    when the candidates were chosen and the reviewers' votes (five each: for that guess, for
    neither label), then each run's rank (and the rank of its cross-entropy comparison,
    where the table has one)."""
    errors = reviewed[reviewed.is_label_error == 1].set_index("test_index").sort_index()
    frame = pd.DataFrame({"given": errors.given_label, "guessed": errors.cl_guessed_label,
                          "votes for the guess": errors.votes_guessed,
                          "for neither": errors.votes_neither, "votes": errors.votes_total})
    for name, table in runs.items():
        table = table.set_index("index")
        frame[f"{name} rank"] = table.loc[frame.index, "rank"]
        frame[f"{name} p_given"] = table.loc[frame.index, "p_given"].round(3)
        if "rank_ce" in table:  # the same cross-entropy pass in several runs: one column
            ce = table.loc[frame.index, "rank_ce"]
            if not any(frame[c].equals(ce) for c in frame if c.startswith("CE")):
                frame[f"CE ({name}'s run) rank"] = ce
    frame.index.name = "test image"
    return frame


def top_counts(frame: pd.DataFrame, top: int) -> pd.Series:
    """How many of the confirmed errors each run ranks among the ``top`` most suspicious,
    and how many any run does."""
    columns = [c for c in frame if c.endswith(" rank")]
    counts = (frame[columns] <= top).sum()
    counts[f"any run (best rank of {len(columns)})"] = int((frame[columns].min(axis=1) <= top).sum())
    return counts.rename(f"of {len(frame)} in the top {top}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="NAME=CSV")
    parser.add_argument("--top", type=int, default=100)
    parser.add_argument("--out", help="also write the tables to this Markdown file")
    args = parser.parse_args()
    runs = {}
    for item in args.runs:
        name, sep, path = item.partition("=")
        if not sep:
            parser.error(f"{item!r}: expected NAME=CSV")
        runs[name] = pd.read_csv(path)
    frame = ranks(runs, read_review())
    text = (frame.to_markdown() + "\n\n"
            + top_counts(frame, args.top).to_frame().to_markdown() + "\n")
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
