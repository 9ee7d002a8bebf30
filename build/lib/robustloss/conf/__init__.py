"""The Hydra configs (conf/ at the top of the repository), shipped inside the package as
``robustloss.conf``; found by Hydra as ``pkg://robustloss.conf``."""
