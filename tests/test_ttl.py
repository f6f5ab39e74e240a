"""openpoint/ttl.py: values kept for a while, None cached like any value, failed loads not kept."""

from __future__ import annotations

import pytest

from openpoint.ttl import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_value_is_loaded_once_until_it_expires() -> None:
    clock = Clock()
    cache: TTLCache[str, int | None] = TTLCache(1.0, clock=clock)
    loads: list[str] = []

    async def load() -> int | None:
        loads.append("x")
        return None  # "no such thing" is an answer worth keeping too

    assert await cache.get_or_load("k", load) is None
    clock.now += 0.9
    assert await cache.get_or_load("k", load) is None
    assert loads == ["x"]
    clock.now += 0.2
    await cache.get_or_load("k", load)
    assert loads == ["x", "x"]


async def test_a_failed_load_keeps_nothing_and_drop_forgets() -> None:
    cache: TTLCache[str, int] = TTLCache(60.0)

    async def fail() -> int:
        raise RuntimeError("down")

    async def one() -> int:
        return 1

    async def two() -> int:
        return 2

    with pytest.raises(RuntimeError):
        await cache.get_or_load("k", fail)
    assert len(cache) == 0
    assert await cache.get_or_load("k", one) == 1
    assert await cache.get_or_load("k", two) == 1
    cache.drop("k")
    assert await cache.get_or_load("k", two) == 2


def test_a_full_cache_starts_over() -> None:
    cache: TTLCache[int, int] = TTLCache(60.0, max_entries=2)
    for i in range(3):
        cache.put(i, i)
    assert len(cache) == 3
    cache.put(3, 3)
    assert len(cache) == 1
