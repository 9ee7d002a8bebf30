"""Finding label errors in your own data: an .npz through the pipeline, then the list."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from robustloss.data import load
from robustloss.data.arrays import arrays

from .conftest import REPO


@pytest.fixture
def own_data(tmp_path):
    """digits as a user's (N, H, W, C)-ordered file, with 60 labels swapped on purpose."""
    data = load("digits")
    images = data.images.numpy().transpose(0, 2, 3, 1)  # (N, 8, 8, 1)
    labels = data.labels.copy()
    wrong = np.random.default_rng(0).choice(len(labels), 60, replace=False)
    labels[wrong] = (labels[wrong] + 3) % 10
    path = tmp_path / "mine.npz"
    np.savez(path, images=images, labels=labels)
    return path, set(wrong.tolist())


def test_own_labels_are_checked_and_the_planted_errors_come_first(tmp_path, own_data):
    path, wrong = own_data
    results = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, "-m", "robustloss.run", "dataset=arrays", f"dataset.path={path}",
         "loss=blurry", f"results_dir={results}", f"hydra.run.dir={tmp_path / 'h'}",
         "progress=false"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    # the labels as given have no known corruption: a count, not "F1 0.0000"
    log = run.stdout + run.stderr
    assert "of 1797 flagged (no known corruption" in log and "F1 0.0" not in log
    tables = subprocess.run([sys.executable, "-m", "robustloss.cli", "tables", str(results)], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert tables.returncode == 2 and "no known label corruption" in tables.stderr
    out = subprocess.run([sys.executable, "-m", "robustloss.cli", "label-issues", str(results)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    (csv,) = results.glob("*_label_issues.csv")
    table = pd.read_csv(csv)
    assert len(table) == 1797 and table["flagged"].iloc[0]
    flagged = set(table.loc[table["flagged"], "index"])
    assert len(flagged & wrong) >= 50          # most planted errors are found
    assert len(flagged) < 150                  # without flagging much else
    assert "flagged ->" in out.stdout


def test_bad_files_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="needs dataset.path"):
        arrays()
    with pytest.raises(FileNotFoundError, match="no file"):
        arrays(path=str(tmp_path / "none.npz"))
    np.savez(tmp_path / "a.npz", images=np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"missing array\(s\) \['labels'\]"):
        arrays(path=str(tmp_path / "a.npz"))
    np.savez(tmp_path / "b.npz", images=np.zeros((3, 8, 8)), labels=np.zeros(3, int))
    with pytest.raises(ValueError, match="must be uint8"):
        arrays(path=str(tmp_path / "b.npz"))
    np.savez(tmp_path / "c.npz", images=np.zeros((3, 8, 8), np.uint8), labels=np.array([0, 1, 5]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        arrays(path=str(tmp_path / "c.npz"), num_classes=3)
    with pytest.raises(ValueError, match=r"labels leave class\(es\) \[2, 3, 4\] of 0..5 empty"):
        arrays(path=str(tmp_path / "c.npz"))  # labels 0, 1, 5: classes 2-4 would be empty
    np.savez(tmp_path / "d.npz", images=np.zeros((3, 8, 8), np.uint8), labels=np.array([0, 1, 2]))
    assert arrays(path=str(tmp_path / "d.npz")).images.shape == (3, 1, 8, 8)
