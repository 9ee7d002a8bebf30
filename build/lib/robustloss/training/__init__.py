"""Training: one model on index sets of resident tensors (loop), K folds stacked as one
vmapped model (stacked), cross-validation, precision, augmentation, training dynamics."""
