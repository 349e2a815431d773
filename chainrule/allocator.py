"""Keep freed NumPy buffers in the process instead of handing them back to the OS after every step.

A training step allocates and frees the same large temporaries (im2col matrices, activations,
gradients) again and again. With glibc's default settings, buffers above a small threshold are
mapped fresh from the kernel and unmapped when freed, and the top of the heap is trimmed as soon as
128 KiB lie free there; every step then pays a page fault for each page it touches again. Measured
on the LeNet-like CNN of ``benchmarks/train_cnn.py`` (one thread, CPU time): in a fresh process a
pass over 10,000 images took 4.7 s and 680,000 minor page faults with the defaults, against 2.6 s
and 10 page faults (after the first pass) with the settings below.

:func:`configure` raises three limits with ``mallopt``: buffers up to 32 MiB come from the heap, up
to 128 MiB of free heap is kept before trimming, and the heap grows 16 MiB at a time. The cost is
that up to about 128 MiB of freed memory stays resident after a large step. chainrule calls it once
on import, on Linux with glibc only; set ``CHAINRULE_ALLOCATOR=system`` before importing chainrule to
keep the system's settings (they are also kept when ``GLIBC_TUNABLES`` sets malloc options).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = ["configure", "SETTINGS"]

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's <malloc.h>
MIB = 1 << 20
SETTINGS = {M_MMAP_THRESHOLD: 32 * MIB, M_TRIM_THRESHOLD: 128 * MIB, M_TOP_PAD: 16 * MIB}


def configure() -> bool:
    """Apply :data:`SETTINGS` to glibc's allocator; False (and nothing changed) where it does not apply:
    another C library, ``CHAINRULE_ALLOCATOR=system``, or malloc options in ``GLIBC_TUNABLES``."""
    if os.environ.get("CHAINRULE_ALLOCATOR", "").lower() == "system" or "malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return all(libc.mallopt(option, value) == 1 for option, value in SETTINGS.items())
    except (OSError, AttributeError):
        return False
