"""Memory freed by a long job goes back to the system (glibc and Arrow keep it otherwise), so a
process's resident memory follows what it holds, not what it once held: the API's workers
after loading their tables, the pandas batch engine from chunk to chunk. Both are no-ops where
glibc is not the C library."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
from ctypes.util import find_library
from functools import cache
from typing import Any

M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # mallopt parameters (glibc's malloc.h)
MMAP_THRESHOLD = 1 << 20  # blocks of 1 MiB and more get pages of their own, unmapped when freed
ARENA_MAX = 2


@cache
def _libc() -> Any:
    name = find_library("c")
    return ctypes.CDLL(name) if name else None


def bound_allocators() -> None:
    """Make memory freed later go back to the system.

    - Arrow allocates from the system allocator instead of its mimalloc pool, which kept freed
      segments resident; ARROW_DEFAULT_MEMORY_POOL is read when pyarrow is first imported (an
      already imported pyarrow is switched with ``set_memory_pool``).
    - glibc: a fixed mmap threshold (a fixed value also stops glibc raising it after each large
      free, which put table-sized buffers on the heap, where they fragment) and at most two
      arenas (each thread that loads tables otherwise gets one, trimmed badly)."""
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    arrow = sys.modules.get("pyarrow")
    if arrow is not None and os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system":
        arrow.set_memory_pool(arrow.system_memory_pool())
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):  # glibc only
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(M_ARENA_MAX, ARENA_MAX)


def release_heap(collect: bool = True) -> None:
    """Hand freed memory back to the system, so that it stops counting in the process's RSS:
    Arrow's pool's unused memory, then glibc's free heap pages (``malloc_trim``)."""
    if collect:
        gc.collect()
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):  # glibc only
        libc.malloc_trim(0)
