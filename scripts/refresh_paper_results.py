"""Redraw what the README and the manual show of the records in results/paper, after records
land: the README's Results digest, the comparison tables in docs/reproducing.md, their CSVs
and provenance.csv (each record's commit, CPU and arithmetic) in docs/tables/ and Figure 9 in
docs/figures/. tests/test_docs.py checks that the committed copies equal what the records
give; this writes them.

    python scripts/refresh_paper_results.py        # or: make paper-results
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

from robustloss.reporting.figures import FIGURES
from robustloss.reporting.figures.records import frame
from robustloss.reporting.figures.style import save
from robustloss.reporting.tables import PUBLISHED_CSVS, write_tables

REPO = Path(__file__).resolve().parents[1]
RECORDS = REPO / "results" / "paper"


def replace_between(text: str, start: str, end: str, new: str, name: str) -> str:
    """``text`` with what lies from the line ``start`` up to ``end`` replaced by ``new``."""
    if start not in text or end not in text:
        sys.exit(f"{name}: cannot find {start.strip()!r} ... {end.strip()!r}")
    a, b = text.index(start), text.index(end, text.index(start))
    return text[:a] + new + text[b:]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tables = Path(tmp)
        write_tables(RECORDS, tables, paper=True)
        readme = REPO / "README.md"
        digest = (tables / "seed_summary.md").read_text(encoding="utf-8")
        readme.write_text(replace_between(readme.read_text(encoding="utf-8"), "| row | BL − CE",
                                          "\nEvery cell,", digest, "README.md"), encoding="utf-8")
        manual = REPO / "docs" / "reproducing.md"
        drawn = re.sub(r"^### ", "#### ", (tables / "seed_comparison.md").read_text(encoding="utf-8"),
                       flags=re.M).strip()
        manual.write_text(replace_between(manual.read_text(encoding="utf-8"), "#### F1\n",
                                          "## Figures\n", drawn + "\n\n", "docs/reproducing.md"),
                          encoding="utf-8")
        for name in PUBLISHED_CSVS:
            shutil.copy(tables / name, REPO / "docs" / "tables" / name)
    stem, _, make = FIGURES[9]
    figure, _ = make(frame(RECORDS), None)
    save(figure, REPO / "docs" / "figures", stem)
    (REPO / "docs" / "figures" / f"{stem}.pdf").unlink()   # the manual shows the PNG only
    print("README.md, docs/reproducing.md, docs/tables/, docs/figures/"
          f"{stem}.png redrawn from {RECORDS}")


if __name__ == "__main__":
    main()
