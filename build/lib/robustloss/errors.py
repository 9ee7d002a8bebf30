"""User errors: wrong settings, files or values, found before any work is done. Entry
points print them as one line (``robustloss: error: ...``, exit status 2) instead of a
traceback; ``ROBUSTLOSS_TRACEBACK=1`` shows the full traceback. Anything else is a bug and
keeps its traceback."""

from __future__ import annotations

import contextlib
import functools
import os
import sys

TRACEBACK_VARIABLE = "ROBUSTLOSS_TRACEBACK"


class UserError(ValueError):
    """A setting, file or value the user can fix; the message names it and what is allowed."""


@contextlib.contextmanager
def as_user_errors():
    """Inside: ValueError, TypeError, KeyError and file errors become UserError (use it
    around checks that run before any training, so a failure there is the input's fault)."""
    try:
        yield
    except UserError:
        raise
    except (ValueError, TypeError, KeyError, FileNotFoundError, NotADirectoryError,
            PermissionError) as err:
        message = (err.args[0] if isinstance(err, KeyError) and err.args else str(err)) \
            or type(err).__name__
        if isinstance(err, OSError) and getattr(err, "filename", None) and err.filename not in message:
            message = f"{err.filename}: {message}"
        raise UserError(message) from err


def check_choice(name: str, value, valid) -> None:
    """ValueError ``<name> must be one of a, b; got 'x'`` unless ``value`` is in ``valid``."""
    if value not in valid:
        raise ValueError(f"{name} must be one of {', '.join(valid)}; got {value!r}")


def check_integer(name: str, value, low: int) -> int:
    """``value`` when it is an integer (not a bool) >= ``low``; ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return value


def report(err: BaseException) -> int:
    """Print a user error as one line; the exit status for it."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    print(f"robustloss: error: {text}", file=sys.stderr)
    return 2


def cli(main):
    """Decorator for console entry points: a UserError becomes one line on stderr and exit
    status 2 (the traceback with ROBUSTLOSS_TRACEBACK=1)."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            if os.environ.get(TRACEBACK_VARIABLE):
                raise
            sys.exit(report(err))

    return wrapper
