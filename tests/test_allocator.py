"""The allocator settings applied on import: freed buffers are reused instead of faulted in again."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# 20 times: allocate and touch eight 4 MiB buffers (as a training step does), then free them all;
# print the minor page faults this took
SCRIPT = """
import resource, numpy as np, chainrule
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    buffers = [np.ones(1 << 20, dtype=np.float32) for _ in range(8)]
    del buffers
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
ROUND_PAGES = 8 * (4 << 20) // 4096  # the pages one round touches


def _faults(**env: str) -> int:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    environment.pop("GLIBC_TUNABLES", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=environment, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings apply to glibc's allocator only")
def test_freed_buffers_are_reused_and_the_system_settings_can_be_kept():
    assert _faults() < ROUND_PAGES  # faulted in once at most, then reused from the heap
    # glibc's defaults return the freed heap top to the OS after each round: faulted in again every time
    assert _faults(CHAINRULE_ALLOCATOR="system") > 5 * ROUND_PAGES


def test_configure_declines_when_asked_to_keep_the_system_settings(monkeypatch):
    from chainrule import allocator

    monkeypatch.setenv("CHAINRULE_ALLOCATOR", "system")
    assert allocator.configure() is False
    monkeypatch.delenv("CHAINRULE_ALLOCATOR")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1000000")
    assert allocator.configure() is False
