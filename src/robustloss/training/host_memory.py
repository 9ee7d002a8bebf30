"""Keep freed host memory for reuse while training on a CPU.

glibc's malloc hands every block above its mmap threshold (128 KiB to 32 MiB, adjusted as
the process runs) straight back to the kernel when it is freed, so a training step that
allocates the same activations every batch pays for fresh, zero-filled pages every time:
page faults were a fifth of the small CNN's CPU step (``make bench``). Raising the
thresholds keeps those blocks in the heap, where the next step finds them. The memory
stays with the process (its resident size is the peak of one step, which it reaches
anyway). No effect, and no error, where the C library is not glibc.

The setting is the whole process's, so the library never makes it on its own: importing
``robustloss`` or calling ``run_and_record`` from a notebook leaves the allocator alone.
Only the processes this package owns call it: the ``robustloss`` command (``cli.main``) and
every Hydra job of ``robustloss run`` (``cli.run.experiment``: joblib and SLURM workers).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_LARGEST_MMAP_THRESHOLD = 32 * 2**20  # glibc's upper bound on 64-bit systems


@functools.cache
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they were set."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, _LARGEST_MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
