"""Experiments: typed settings and their identity, one experiment from data to record,
config composition, sweeps and their progress, provenance."""

# ExperimentSettings.from_dict completes a partial dict with the configs' defaults; the config
# module installs that when the package is imported, whichever module is imported first.
from robustloss.experiments import config  # noqa: F401
