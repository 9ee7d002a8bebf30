"""``python -m robustloss.run ...``: the same as ``robustloss run ...`` (kept for scripts and
the Makefile)."""

from robustloss.cli.run import run_main

if __name__ == "__main__":
    run_main()
