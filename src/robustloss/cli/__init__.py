"""The robustloss command: one entry point, a subcommand per job, ``--help`` on each.

    robustloss run [-m] OVERRIDES...        one experiment, or a sweep (Hydra; --help: its options)
    robustloss tables DIR [--paper]         the paper's tables from the records under DIR
    robustloss figures DIR [--noise KIND]   the paper's figures (and Figure 8) from the records
    robustloss label-issues DIR             what the records under DIR flag, ranked
    robustloss reproduce TABLE [--smoke] [--launcher slurm] ...   a paper table's sweeps, then the table
    robustloss demo                         all seven losses on the bundled digits, tables, figures
    robustloss bench                        speed and memory of the training loop
    robustloss find-issues PATH             the label errors in your own data, with a report
    robustloss --version

Bad input ends any subcommand with one line ``robustloss: error: ...`` and exit status 2.
"""

from __future__ import annotations

import argparse
import sys

from robustloss import __version__

# subcommand -> (module, one-line help); each module has main(argv)
COMMANDS = {
    "run": ("robustloss.cli.run", "one experiment, or a sweep with -m (Hydra overrides)"),
    "tables": ("robustloss.cli.tables", "the paper's tables from a folder of records"),
    "figures": ("robustloss.cli.figures", "the paper's figures from a folder of records"),
    "label-issues": ("robustloss.cli.label_issues", "the samples a folder's records flag"),
    "reproduce": ("robustloss.cli.reproduce", "run a paper table's sweeps, then write the table"),
    "demo": ("robustloss.cli.demo", "all seven losses on digits: tables and figures in minutes"),
    "bench": ("robustloss.cli.bench", "speed and memory of the training loop (prints numbers)"),
    "find-issues": ("robustloss.cli.find_issues", "find the label errors in your own data"),
}


def version() -> str:
    """``robustloss X.Y.Z`` and the git commit of the source tree, when there is one."""
    from robustloss.experiments.provenance import git_commit

    git = git_commit()
    if not git["commit"]:
        return f"robustloss {__version__}"
    return f"robustloss {__version__} (git {git['commit'][:12]}{', modified' if git['dirty'] else ''})"


class _Version(argparse.Action):
    """``--version``: looked up only when asked (the git lookup imports the experiments)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help="show the version and exit"):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version(), flush=True)
        parser.exit()


def run_hydra(argv: list[str]) -> int:
    """Hydra reads sys.argv itself: hand it the overrides."""
    from robustloss.cli.run import run_main

    sys.argv = ["robustloss run", *argv]
    run_main()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="robustloss", description=__doc__.split("\n\n")[0],
        epilog="`robustloss COMMAND --help` describes each command.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, text) in COMMANDS.items():
        sub.add_parser(name, help=text, add_help=False)
    if not argv or argv[0] not in COMMANDS:  # usage, --help, --version, or an unknown command
        parser.parse_args(argv)
    command, rest = argv[0], argv[1:]
    from robustloss.training.host_memory import keep_freed_memory

    keep_freed_memory()  # this process is ours (training/host_memory.py)
    if command == "run":
        return run_hydra(rest)
    import importlib

    code = importlib.import_module(COMMANDS[command][0]).main(rest)
    return int(code or 0)
