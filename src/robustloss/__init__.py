"""robustloss: robust loss functions that back off from hard samples, and a pipeline that
uses them to find mislabelled training samples (cross-validation -> cleanlab / AUM)."""

__version__ = "0.1.0"
