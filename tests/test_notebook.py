"""The walkthrough notebook runs from top to bottom, and its two files (jupytext pair: the
.py is the source, the .ipynb what Jupyter opens) say the same."""

from __future__ import annotations

import jupytext
import pytest
from nbclient import NotebookClient

from .conftest import REPO

NOTEBOOK = REPO / "notebooks" / "find_label_errors.py"


def test_paired_notebook_matches_its_source():
    source = jupytext.read(NOTEBOOK)
    paired = jupytext.read(NOTEBOOK.with_suffix(".ipynb"))
    assert [c.source for c in source.cells] == [c.source for c in paired.cells]


@pytest.mark.slow  # 50 s; find_label_issues itself is covered by test_find_issues
def test_notebook_executes_and_finds_the_planted_errors(tmp_path):
    notebook = jupytext.read(NOTEBOOK)
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    except Exception as error:  # noqa: BLE001
        if "No such kernel" in str(error):
            pytest.skip(f"no python3 Jupyter kernel: {error}")
        raise
    text = "\n".join(out.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                     for out in cell.get("outputs", []))
    caught = int(text.split("caught ")[1].split(" of 40")[0])
    assert caught >= 30, text
    assert (tmp_path / "my_digits_report.html").stat().st_size > 10_000
    images = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    assert images  # the figure of suspicious samples was drawn
