"""The package's layers (docs/DESIGN.md section 4): a module imports only its own layer and
the layers below it, lazily or not."""

from __future__ import annotations

import ast

from .conftest import REPO

LAYERS = ["ground", "data", "components", "training", "detection", "experiments", "reporting",
          "find", "cli"]
GROUND = {"errors", "registry", "records"}
SRC = REPO / "src" / "robustloss"


def layer_of(module: str) -> str | None:
    """robustloss.<part>... -> its layer (None: the package root, which imports lazily)."""
    parts = module.split(".")[1:]
    if not parts:
        return None
    if parts[0] in GROUND:
        return "ground"
    if parts[0] == "run":  # python -m robustloss.run: the CLI's wrapper
        return "cli"
    return parts[0] if parts[0] in LAYERS else None


def imports_of(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("robustloss"):
            names = [node.module] if node.module != "robustloss" else \
                [f"robustloss.{alias.name}" for alias in node.names]
            yield from ((name, node.lineno) for name in names)
        elif isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names if a.name.startswith("robustloss"))


def test_every_module_belongs_to_a_layer():
    for path in SRC.rglob("*.py"):
        module = ".".join(("robustloss", *path.relative_to(SRC).with_suffix("").parts))
        if module.endswith("__init__"):
            module = module.rsplit(".", 1)[0]
        if module != "robustloss":
            assert layer_of(module) in LAYERS, module


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in SRC.rglob("*.py"):
        module = ".".join(("robustloss", *path.relative_to(SRC).with_suffix("").parts))
        own = layer_of(module)
        if own is None:
            continue
        for target, line in imports_of(path):
            theirs = layer_of(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(own):
                upward.append(f"{path.relative_to(SRC)}:{line} ({own}) imports {target} ({theirs})")
    assert not upward, "\n".join(upward)
