"""The package's layers (docs/DESIGN.md section 4): a module imports only its own layer and
the layers below it, lazily or not, and no modules import each other in a circle."""

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


def module_of(path, src=SRC) -> str:
    """src/robustloss/a/b.py -> robustloss.a.b; a package's __init__.py -> the package."""
    module = ".".join(("robustloss", *path.relative_to(src).with_suffix("").parts))
    return module.removesuffix(".__init__")


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
        module = module_of(path)
        if module != "robustloss":
            assert layer_of(module) in LAYERS, module


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in SRC.rglob("*.py"):
        module = module_of(path)
        own = layer_of(module)
        if own is None:
            continue
        for target, line in imports_of(path):
            theirs = layer_of(target)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(own):
                upward.append(f"{path.relative_to(SRC)}:{line} ({own}) imports {target} ({theirs})")
    assert not upward, "\n".join(upward)


def import_graph(src=SRC) -> dict[str, set[str]]:
    """module -> the package modules it imports, lazily or not. ``from package import name``
    points at the submodule ``package.name`` when there is one, else at the package; the
    parent package a submodule's import implies is no edge, so a package whose ``__init__``
    imports the modules that register into a registry beside it is no circle."""
    paths = {module_of(path, src): path for path in src.rglob("*.py")}

    def known(name: str) -> str:  # robustloss.x.NAME (an attribute) -> robustloss.x
        while name not in paths and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    graph = {}
    for module, path in paths.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                    and node.module.split(".")[0] == "robustloss":
                targets |= {known(f"{node.module}.{alias.name}") for alias in node.names}
            elif isinstance(node, ast.Import):
                targets |= {known(a.name) for a in node.names if a.name.split(".")[0] == "robustloss"}
        graph[module] = {t for t in targets if t in paths and t != module}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles of ``graph`` (module -> modules it imports): each strongly connected group
    of two or more modules, sorted (Tarjan's algorithm, iterative)."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    circles.append(sorted(group))
    return sorted(circles)


def test_the_circle_check_finds_a_circle_and_nothing_else():
    assert import_circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_circles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    assert import_circles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}) == [["a", "b"], ["c", "d"]]


def test_the_circle_check_reads_lazy_imports_and_package_inits(tmp_path):
    """A synthetic package: a lazy import back is a circle; an __init__ that imports the
    modules registering into a registry beside it is not."""
    src = tmp_path / "robustloss"
    (src / "layer" / "pkg").mkdir(parents=True)
    for name, text in {
        "__init__.py": "",
        "layer/__init__.py": "",
        "layer/config.py": "from robustloss.layer.settings import Settings\n",
        "layer/settings.py": "class Settings:\n    def load(self):\n"
                             "        from robustloss.layer.config import compose\n",
        "layer/pkg/__init__.py": "from robustloss.layer.pkg import one, two  # registers\n"
                                 "from robustloss.layer.pkg.registry import THINGS\n",
        "layer/pkg/registry.py": "THINGS = {}\n",
        "layer/pkg/one.py": "from robustloss.layer.pkg.registry import THINGS\n",
        "layer/pkg/two.py": "from robustloss.layer.pkg import one\n",
        "layer/loop.py": "import robustloss.layer.pkg.registry\nfrom robustloss.layer import back\n",
        "layer/back.py": "def f():\n    from robustloss.layer.loop import g\n",
    }.items():
        (src / name).write_text(text)
    graph = import_graph(src)
    assert graph["robustloss.layer.pkg"] == {f"robustloss.layer.pkg.{m}" for m in ("one", "two", "registry")}
    assert graph["robustloss.layer.pkg.two"] == {"robustloss.layer.pkg.one"}
    assert import_circles(graph) == [["robustloss.layer.back", "robustloss.layer.loop"],
                                     ["robustloss.layer.config", "robustloss.layer.settings"]]


def test_no_modules_import_each_other_in_a_circle():
    """Within a layer too (across layers a circle needs an upward import, refused above)."""
    circles = import_circles(import_graph())
    assert not circles, "\n".join(" <-> ".join(c) for c in circles)
