"""Memory freed goes back to the system: Arrow on its system allocator, glibc trimmed."""

from __future__ import annotations

import sys

import pyarrow as pa
import pytest

from scoring import allocator


def test_an_imported_arrow_is_switched_to_the_system_allocator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    previous = pa.default_memory_pool()
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    try:
        allocator.bound_allocators()
        assert pa.default_memory_pool().backend_name == "system"
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
        pa.set_memory_pool(previous)
        allocator.bound_allocators()  # an operator's choice is kept
        assert pa.default_memory_pool().backend_name == previous.backend_name
    finally:
        pa.set_memory_pool(previous)


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[int, ...]]] = []

    def mallopt(self, *args: int) -> None:
        self.calls.append(("mallopt", args))

    def malloc_trim(self, *args: int) -> None:
        self.calls.append(("malloc_trim", args))


def test_glibc_is_bounded_then_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(allocator, "_libc", lambda: libc)
    released: list[int] = []

    class Pool:
        def release_unused(self) -> None:
            released.append(1)

    class Arrow:  # the parts of pyarrow the module uses
        def default_memory_pool(self) -> Pool:
            return Pool()

        def system_memory_pool(self) -> Pool:
            return Pool()

        def set_memory_pool(self, pool: Pool) -> None:
            released.append(0)

    monkeypatch.setitem(sys.modules, "pyarrow", Arrow())
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    allocator.bound_allocators()
    allocator.release_heap(collect=False)
    assert libc.calls == [
        ("mallopt", (allocator.M_MMAP_THRESHOLD, 1 << 20)),
        ("mallopt", (allocator.M_ARENA_MAX, 2)),
        ("malloc_trim", (0,)),
    ]
    assert released == [0, 1]  # switched to the system pool, then its unused memory freed


def test_without_glibc_nothing_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_libc", lambda: None)
    allocator.bound_allocators()
    allocator.release_heap()
