"""Detection: from training evidence (out-of-fold probabilities, training runs) to flagged
samples, and their scores. Importing the package registers both detectors."""

from robustloss.detection import aum, detect  # noqa: F401  (register "confident_learning", "aum")
