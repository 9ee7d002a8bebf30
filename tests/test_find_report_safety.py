"""report.html is safe to open whatever the user's data are named: class folder names, file
names, label values of a feature table, class names of an .npz and the input's path all
reach the page escaped, never as markup. Each input runs `robustloss find-issues` end to end
on a handful of 8x8 images or rows (2 folds, 1 epoch), with Confident Learning's flags
fixed so that every section of the report (the grids, the comparison with cross-entropy,
the per-class and given-vs-suggested tables) shows the names."""

from __future__ import annotations

import html
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from robustloss.cli.find_issues import main
from robustloss.find import core as find_core

CLASSES = ["<img src=x onerror=alert(1)>", "a\"b'c&amp;<i>", "plain"]
FILE = "<b>{i}<_b>.png"
FOLDER = "<svg onload=alert(2)>"              # a folder on the input's path
PER_CLASS = 6
# what the page is built from (robustloss.find.report): tags and attributes of its own
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "div", "p", "b",
        "img", "table", "thead", "tbody", "tr", "th", "td"}
ATTRIBUTES = {"charset", "class", "src", "alt", "border", "style", "halign", "valign"}


class Markup(HTMLParser):
    """Every tag and attribute the page holds, and its text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attributes, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data):
        self.text.append(data)


def every_section_flagged(monkeypatch):
    """Blurry Loss flags every second sample, cross-entropy every third (in that order:
    find_label_issues judges its own pass first), so both and each alone flag some."""
    calls = []

    def flags(labels, probs):
        calls.append(1)
        return np.arange(len(labels)) % (2 if len(calls) % 2 else 3) == 0

    monkeypatch.setattr(find_core, "confident_learning", flags)


def image_folder(root: Path) -> Path:
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = np.full((8, 8), 40 * k + i, dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / FILE.format(i=i))
    return root


def feature_table(root: Path) -> Path:
    root.mkdir(parents=True)
    labels = np.repeat(["<script>alert(3)</script>", *CLASSES[1:]], PER_CLASS)
    features = np.random.default_rng(0).normal(size=(len(labels), 4))
    path = root / "<u>table</u>.csv".replace("/", "_")
    pd.DataFrame(features, columns=list("abcd")).assign(label=labels).to_csv(path, index=False)
    return path


def npz(root: Path) -> Path:
    root.mkdir(parents=True)
    labels = np.repeat(np.arange(3), PER_CLASS)
    images = np.stack([np.full((8, 8), 40 * k, dtype=np.uint8) for k in labels])
    np.savez(root / "mine.npz", images=images, labels=labels, class_names=np.array(CLASSES))
    return root / "mine.npz"


@pytest.mark.parametrize("make_input", [image_folder, feature_table, npz])
def test_no_user_supplied_string_reaches_the_report_as_markup(tmp_path, monkeypatch, make_input):
    path = make_input(tmp_path / FOLDER / "data")
    every_section_flagged(monkeypatch)
    out = tmp_path / "out"
    assert main([str(path), "--out", str(out), "--folds", "2", "--epochs", "1", "--protocol",
                 "paper", "--loss", "blurry", "--quiet", "--review", "5"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    table = pd.read_csv(out / "label_issues.csv", keep_default_na=False)
    shown = {str(path), *table["given_label"], *table["suggested_label"], *table["sample"]}
    raw = {s for s in shown if any(c in s for c in "<>\"'&")}
    assert raw, "the input names nothing that needs escaping: the test tests nothing"
    for name in raw:
        assert name not in page, f"{name!r} is in report.html unescaped"
    markup = Markup()
    markup.feed(page)
    assert set(markup.tags) <= TAGS, set(markup.tags) - TAGS
    names = {name for name, _ in markup.attributes}
    assert names <= ATTRIBUTES and not any(n.startswith("on") for n in names), names
    sources = [value for name, value in markup.attributes if name == "src"]
    assert all(value.startswith("data:image/png;base64,") for value in sources)
    text = "".join(markup.text)
    for name in raw:                                 # shown, as text
        assert name in text or html.unescape(name) in text, name
    if make_input is image_folder:  # every sample, then the 6 only Blurry Loss flags, the 3 only CE
        assert len(sources) == 3 * PER_CLASS + 6 + 3
