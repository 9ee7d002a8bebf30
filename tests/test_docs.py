"""The manual (mkdocs.yml + docs/): it builds with --strict (a broken link or anchor, a page
missing from the navigation, an API reference that no longer resolves fail), and the short
commands it shows exit 0."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from robustloss.cli import COMMANDS
from robustloss.cli import main as cli_main

from .conftest import REPO

ROBUSTLOSS = Path(sys.executable).parent / "robustloss"  # the command next to this interpreter
MANUAL_PARTS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def manual_text() -> str:
    """The manual's pages and the README, as one text."""
    pages = sorted((REPO / "docs").glob("*.md"))
    return "\n".join(p.read_text(encoding="utf-8") for p in [REPO / "README.md", *pages])


def test_the_manual_builds_strict(tmp_path):
    missing = [name for name in MANUAL_PARTS if importlib.util.find_spec(name.split(".")[0]) is None
               or importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the manual's tools are not installed ({', '.join(missing)}): "
                    "pip install mkdocs-material 'mkdocstrings[python]' (the dev extra has them)")
    site = tmp_path / "site"
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                           cwd=REPO, capture_output=True, text=True, timeout=300,
                           env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert build.returncode == 0, (build.stdout + build.stderr)[-4000:]
    assert (site / "index.html").exists()
    api = (site / "api.html").read_text(encoding="utf-8")
    for name in ("robustloss.components.losses.BlurryLoss", "robustloss.find.core.find_label_issues",
                 "robustloss.experiments.config.compose"):
        assert f'id="{name}"' in api, f"the API reference lost {name}"
    # the section another page (and the README) links to by its anchor
    assert 'id="table-1-rows-over-seeds"' in (site / "reproducing.html").read_text(encoding="utf-8")
    # every page in docs/ is built (none left out of the navigation by a typo)
    pages = {p.stem for p in (REPO / "docs").glob("*.md") if p.name != "DESIGN.md"}
    assert pages <= {p.stem for p in site.glob("*.html")}


def test_the_design_notes_have_one_source():
    design = REPO / "docs" / "DESIGN.md"  # the name conf/ and src/ cite
    assert design.resolve() == (REPO / "docs" / "architecture.md").resolve()


def slug(heading: str) -> str:
    """A heading's anchor, as GitHub and MkDocs' toc make it for plain headings."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readme_is_short_and_its_links_resolve():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    for target in re.findall(r"\]\(([^)\s]+)\)", readme):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        assert (REPO / path).exists(), f"README links to {path}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+ (.+)$", (REPO / path).read_text(encoding="utf-8"), re.M)
            assert anchor in {slug(h) for h in headings}, f"README links to {target}: no such heading"


def exit_code_in_process(args: list[str]) -> tuple[int, str]:
    """(exit status, stdout) of `robustloss ARGS` run through robustloss.cli.main here."""
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            code = cli_main(args)
        except SystemExit as done:  # argparse ends --help and --version this way
            code = done.code
    return int(code or 0), out.getvalue()


def test_the_commands_the_manual_shows_exit_0():
    """`robustloss run --help` (Hydra's app) as a real process, started first; meanwhile
    `robustloss --help`, `--version` and every other subcommand's --help in this process
    (one import of each module instead of a start-up per command), and `make help`."""
    text = manual_text()
    assert "robustloss run --help" in text and "robustloss COMMAND --help" in text
    assert ROBUSTLOSS.exists(), f"no robustloss command next to {sys.executable}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = {"run --help": subprocess.Popen([str(ROBUSTLOSS), "run", "--help"], stdout=subprocess.PIPE,
                                              stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)}
    if shutil.which("make"):
        started["make help"] = subprocess.Popen(["make", "-s", "help"], stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    code, out = exit_code_in_process(["--help"])
    assert code == 0 and "COMMAND" in out
    code, out = exit_code_in_process(["--version"])
    assert code == 0 and re.match(r"robustloss \d+\.\d+\.\d+", out), out
    for command in COMMANDS:
        if command == "run":
            continue
        assert f"robustloss {command}" in text, f"the manual does not show robustloss {command}"
        code, out = exit_code_in_process([command, "--help"])
        assert code == 0, f"robustloss {command} --help exited {code}"
        assert out.startswith(f"usage: robustloss {command}"), out[:200]
    outputs = {}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"{name} exited {process.returncode}: {stderr[-2000:]}"
        outputs[name] = stdout
    assert "dataset:" in outputs["run --help"] and "loss:" in outputs["run --help"]  # Hydra's groups
    if "make help" in outputs:
        assert re.search(r"^\s+docs\s", outputs["make help"], re.M), "make help does not list docs"


def test_the_manuals_table_1_rows_are_what_the_committed_records_give(tmp_path):
    """docs/reproducing.md pastes the comparison over seeds, the README its digest
    (seed_summary.md) and docs/tables/ carries its CSVs and provenance.csv; all must be what
    `robustloss tables results/paper --paper` draws from the records in the repository, so a
    record added (or a statistic changed) without the manual fails."""
    from robustloss.reporting.tables import PUBLISHED_CSVS, write_tables

    write_tables(REPO / "results" / "paper", tmp_path, paper=True)
    drawn = re.sub(r"^### ", "#### ", (tmp_path / "seed_comparison.md").read_text(encoding="utf-8"),
                   flags=re.M).strip()
    manual = (REPO / "docs" / "reproducing.md").read_text(encoding="utf-8")
    pasted = manual[manual.index("#### F1\n"):manual.index("## Figures\n")].strip()
    refresh = "redraw them from the records with `make paper-results`"
    assert pasted == drawn, refresh
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert (tmp_path / "seed_summary.md").read_text(encoding="utf-8") in readme, refresh
    for name in PUBLISHED_CSVS:
        committed = pd.read_csv(REPO / "docs" / "tables" / name)
        pd.testing.assert_frame_equal(committed, pd.read_csv(tmp_path / name), rtol=1e-9, obj=refresh)


DATASET_NAMES = {"MNIST": "mnist", "Fashion-MNIST": "fashion_mnist"}
COLUMNS = r"ANL-CE|ANL-FL|GCE|CE|FL|BL|PZ"
# "BL − CE is +0.0090 F1 (95 % CI 0.0071 to 0.0110": a paired difference and its interval
INTERVAL = re.compile(rf"((?:BL|PZ) − (?:{COLUMNS})) (?:is )?([+−-]0\.\d{{4}})(?: F1)? "
                      rf"\((?:95 % CI )?([−-]?0\.\d{{4}}) to ([−-]?0\.\d{{4}})")
COUNTS = {"One": 1, "Two": 2, "Three": 3, "Four": 4}


def row_paragraphs(manual: str) -> list[tuple[str, float, str]]:
    """(heading, eta, text) of each bold-headed paragraph about one rate: "**Result at η 0.2.**",
    "**MNIST η 0.4 is complete**", with the text on one line."""
    found = re.findall(r"^\*\*([^*\n]*η (0\.\d)[^*\n]*)\*\*(.*?)(?:\n\n|\Z)", manual, re.M | re.S)
    return [(head, float(eta), " ".join(text.split())) for head, eta, text in found]


def test_the_manuals_sentences_on_rows_are_what_the_tables_give():
    """The prose of docs/reproducing.md about a row, against docs/tables/ (which the test above
    holds to the records): a "is complete" paragraph's count of experiments, its "every F1 [and
    balanced-accuracy] cell is inside the paper's mean ± 2σ", the balanced-accuracy cells it
    says are "outside their band", its paired differences that "exclude zero", its "paper's
    order" (and the one pair it says swap: "but for CE and BL, which swap places"); and in
    every paragraph each F1 chain like "BL 0.9843 > PZ 0.9826" and each paired difference
    with its interval, "BL − CE +0.0095 (0.0045 to 0.0144)", of the dataset named last before
    it (balanced accuracy when its sentence says so)."""
    manual = (REPO / "docs" / "reproducing.md").read_text(encoding="utf-8")
    cells = pd.read_csv(REPO / "docs" / "tables" / "seed_comparison.csv")
    pairs = pd.read_csv(REPO / "docs" / "tables" / "paired_differences.csv")
    paragraphs = row_paragraphs(manual)
    assert sum("is complete" in head for head, _, _ in paragraphs) >= 2

    def cells_of(dataset: str, eta: float, metric: str = "f1") -> pd.DataFrame:
        return cells[(cells.metric == metric) & (cells.dataset == dataset) & np.isclose(cells.eta, eta)]

    for head, eta, text in paragraphs:
        where = f"docs/reproducing.md, paragraph **{head}**"
        for name, chain in re.findall(rf"(MNIST|Fashion-MNIST): ((?:(?:{COLUMNS}) 0\.\d{{4}}(?: [>≈] )?)+)",
                                      text):
            f1 = cells_of(DATASET_NAMES[name], eta).set_index("column")["mean"]
            stated = re.findall(rf"({COLUMNS}) (0\.\d{{4}})", chain)
            assert [(c, f"{f1[c]:.4f}") for c, _ in stated] == stated, f"{where}: {name} F1 chain"
            assert [c for c, _ in stated] == list(f1.sort_values(ascending=False).index), where
        for interval in INTERVAL.finditer(text):
            before = text[:interval.start()]
            dataset = DATASET_NAMES[re.findall(r"Fashion-MNIST|MNIST", f"{head} {before}")[-1]]
            metric = "balanced_accuracy" if "balanced accuracy" in before[before.rfind(". "):] else "f1"
            row = pairs[(pairs.metric == metric) & (pairs.dataset == dataset) & np.isclose(pairs.eta, eta)
                        & (pairs.difference == interval.group(1))]
            stated = [f"{float(x.replace('−', '-')):.4f}" for x in interval.groups()[1:]]
            drawn = [f"{row[c].iloc[0]:.4f}" for c in ("mean", "ci_low", "ci_high")] if len(row) == 1 else []
            assert stated == drawn, f"{where}: {dataset} {metric} {interval.group(0)}"
        complete = re.match(r"(MNIST|Fashion-MNIST) η [\d.]+ is complete$", head)
        if not complete:
            continue
        dataset = DATASET_NAMES[complete.group(1)]
        f1 = cells_of(dataset, eta)
        count = re.match(r"\((\d+) experiments", text)
        assert count and f1.n.sum() == int(count.group(1)), f"{where}: number of experiments"
        inside = re.search(r"every F1 (and balanced-accuracy )?cell is inside the paper's mean ± 2σ", text)
        if inside:
            claimed = [f1, cells_of(dataset, eta, "balanced_accuracy")] if inside.group(1) else [f1]
            assert not pd.concat(claimed).outside_2sigma.any(), f"{where}: a cell is outside 2σ"
        said_outside = re.search(r"(\w+) balanced-accuracy cells? (?:is|are) outside (?:its|their) band: "
                                 r"(.*?)\.(?: |$)", text)
        if said_outside:
            ba = cells_of(dataset, eta, "balanced_accuracy")
            named = re.findall(rf"({COLUMNS}) at Table 1's", said_outside.group(2))
            assert COUNTS.get(said_outside.group(1)) == len(named), f"{where}: the count of cells outside"
            assert sorted(named) == sorted(ba[ba.outside_2sigma].column), f"{where}: the cells outside 2σ"
        if "exclude zero" in text:
            row = pairs[(pairs.metric == "f1") & (pairs.dataset == dataset) & np.isclose(pairs.eta, eta)]
            assert len(row) == 3 and (row.ci_low > 0).all(), f"{where}: an interval holds zero"
        ours, paper = f1.set_index("column")["mean"], f1.set_index("column")["paper_mean"]
        swapped = {frozenset((a, b)) for a in ours.index for b in ours.index
                   if ours[a] > ours[b] and paper[a] < paper[b]}  # a tie in the paper is no order
        swap = re.search(rf"in the paper's order but for (?:the two Active Negative Losses|({COLUMNS}) and "
                         rf"({COLUMNS})), which swap places", text)
        if swap:
            pair = swap.groups() if swap.group(1) else ("ANL-CE", "ANL-FL")
            assert swapped == {frozenset(pair)}, f"{where}: order"
        elif "in the paper's order" in text:
            assert not swapped, f"{where}: not in the paper's order"
        listed = re.search(rf"\(((?:{COLUMNS})(?: > (?:{COLUMNS}))+)\)", text)
        if listed:
            assert listed.group(1).split(" > ") == list(ours.sort_values(ascending=False).index), \
                f"{where}: the order it lists"


def test_the_wall_times_the_docs_quote_are_the_records():
    """The README and the manual quote an experiment's wall time per precision ("A–B minutes
    ... in bfloat16, C–D in float32"); it must be the range, rounded to the minute, of the
    records stamped with their CPU at the start (docs/tables/provenance.csv), so a slower or
    faster record landing without the sentence fails."""
    records = pd.read_csv(REPO / "docs" / "tables" / "provenance.csv").dropna(subset=["cpu_flags"])
    minutes = records.groupby("precision").total_seconds.agg(["min", "max"]) / 60
    expected = {p: (round(minutes.loc[p, "min"]), round(minutes.loc[p, "max"])) for p in ("bf16", "fp32")}
    quoted = re.compile(r"(\d+)–(\d+) minutes(?: each)? on one thread in bfloat16, (\d+)–(\d+) in float32")
    for page in (REPO / "README.md", REPO / "docs" / "reproducing.md"):
        found = quoted.findall(" ".join(page.read_text(encoding="utf-8").split()))
        assert found, f"{page.name}: no wall time per precision"
        for bf16_lo, bf16_hi, fp32_lo, fp32_hi in found:
            stated = {"bf16": (int(bf16_lo), int(bf16_hi)), "fp32": (int(fp32_lo), int(fp32_hi))}
            assert stated == expected, f"{page.name}: wall times {stated}, the records give {expected}"
    benchmarks = " ".join((REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8").split())
    assert f"took {expected['fp32'][0]}–{expected['fp32'][1]} minutes" in benchmarks, \
        f"docs/benchmarks.md: float32 records took {expected['fp32']} minutes"


def quick_start_blocks() -> tuple[list[str], str]:
    """The README's Quick start: its shell command lines (comments dropped) and its Python."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quick start\n"):]
    section = section[:section.index("\n## ", 1)]
    commands = [line.split("  #")[0].strip()
                for block in re.findall(r"```bash\n(.*?)```", section, re.S)
                for line in block.splitlines() if line.strip()]
    python = "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))
    return commands, python


def test_the_readme_quick_start_runs_as_written(tmp_path):
    """Every command and Python line of the README's Quick start, copied as a newcomer copies
    them, in an empty folder: the placeholders `path/to/images/` and `mine.npz` are made
    there (300 digits, a few labels moved). The Python run_and_record finds the sweep's record
    (one experiment id for the command line and Python), and every output lands where the
    README says."""
    from .test_find_issues import planted_digits, write_folder

    commands, python = quick_start_blocks()
    assert commands and all(c.startswith("robustloss ") for c in commands), commands
    assert "find_label_issues" in python and "run_and_record" in python
    images, labels, _ = planted_digits()
    keep = np.random.default_rng(1).choice(len(labels), 300, replace=False)
    write_folder(tmp_path / "path" / "to" / "images", images[keep], labels[keep])
    np.savez(tmp_path / "mine.npz", images=images[keep], labels=labels[keep])
    env = {**os.environ, "PATH": f"{ROBUSTLOSS.parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stderr[-2000:]}"
    check = python + "\nprint(ran, len(issues), issues.attrs['num_flagged'])\n"
    done = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    ran, rows, flagged = done.stdout.split()[-3:]
    assert ran == "False" and int(rows) == 300 and int(flagged) > 0
    assert len(list((tmp_path / "results" / "runs").glob("*.json"))) == 1
    assert len(list((tmp_path / "results" / "mine").glob("*.json"))) == 2
    assert (tmp_path / "results" / "mine" / "tables" / "records.csv").exists()
    for name in ("images", "mine.npz"):  # label_issues/<input name>/
        assert (tmp_path / "label_issues" / name / "report.html").exists(), name
