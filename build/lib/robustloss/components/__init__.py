"""Components chosen by name in a config: losses, models, label noise (the registries)."""
