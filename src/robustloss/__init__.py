"""robustloss: robust loss functions that back off from hard samples, and a pipeline that
uses them to find mislabelled training samples (cross-validation -> cleanlab / AUM).

    import robustloss
    settings = robustloss.compose(["dataset=digits", "loss=blurry", "loss.gamma=0.4"])
    record, ran = robustloss.run_and_record(settings, "results/mine")
    table = robustloss.find_label_issues("my_images/")

Layers, top to bottom (a layer imports only layers below it; docs/DESIGN.md): cli, find,
reporting, experiments, detection, training, components, data, and the ground (errors,
registry, records).
"""

__version__ = "0.2.0"

__all__ = ["ExperimentSettings", "compose", "find_label_issues", "run_and_record"]

_LAZY = {  # name -> module: nothing heavy (torch, Hydra) is imported at `import robustloss`
    "find_label_issues": "robustloss.find.core",
    "compose": "robustloss.experiments.config",
    "ExperimentSettings": "robustloss.experiments.settings",
    "run_and_record": "robustloss.experiments.experiment",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'robustloss' has no attribute {name!r}")
