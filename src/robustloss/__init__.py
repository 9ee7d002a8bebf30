"""robustloss: robust loss functions that back off from hard samples, and a pipeline that
uses them to find mislabelled training samples (cross-validation -> cleanlab / AUM)."""

__version__ = "0.1.0"

__all__ = ["find_label_issues"]


def __getattr__(name):
    """``robustloss.find_label_issues`` without importing torch at ``import robustloss``."""
    if name == "find_label_issues":
        from robustloss.find.core import find_label_issues

        return find_label_issues
    raise AttributeError(f"module 'robustloss' has no attribute {name!r}")
