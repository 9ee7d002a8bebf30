"""studies/mnist_error_ranks.py: where each run ranks the reviewed label errors."""

from __future__ import annotations

import pandas as pd


def run_table(order: list[int], ce_order: list[int]) -> pd.DataFrame:
    """A label_issues table of samples 0..5 ranked in ``order`` (most suspicious first)."""
    rank = {index: position + 1 for position, index in enumerate(order)}
    rank_ce = {index: position + 1 for position, index in enumerate(ce_order)}
    return pd.DataFrame({"rank": [rank[i] for i in range(6)], "index": range(6),
                         "p_given": [i / 10 for i in range(6)],
                         "rank_ce": [rank_ce[i] for i in range(6)]}).sort_values("rank")


def test_each_run_ranks_the_confirmed_errors_and_a_shared_ce_pass_is_one_column(load_script):
    script = load_script("mnist_error_ranks")
    reviewed = pd.DataFrame({"test_index": [1, 3, 4], "given_label": [1, 3, 4],
                             "cl_guessed_label": [7, 8, 9], "votes_guessed": [5, 0, 3],
                             "votes_neither": [0, 5, 1], "votes_total": [5, 5, 5],
                             "is_label_error": [1, 1, 0]})
    ce = [3, 5, 1, 0, 2, 4]
    runs = {"BL": run_table([1, 0, 2, 3, 4, 5], ce), "PZ": run_table([5, 4, 3, 2, 1, 0], ce)}
    frame = script.ranks(runs, reviewed)
    assert list(frame.index) == [1, 3]                            # the confirmed errors only
    assert frame["BL rank"].tolist() == [1, 4] and frame["PZ rank"].tolist() == [5, 3]
    assert frame["BL p_given"].tolist() == [0.1, 0.3]
    assert frame["CE (BL's run) rank"].tolist() == [3, 1]
    assert not any(column.startswith("CE (PZ") for column in frame)  # the same CE pass
    counts = script.top_counts(frame, top=2)
    assert counts["BL rank"] == 1 and counts["PZ rank"] == 0 and counts["CE (BL's run) rank"] == 1
    assert counts["any run (best rank of 3)"] == 2
