"""Experiments: typed settings and their identity, one experiment from data to record,
config composition, sweeps and their progress, provenance."""
