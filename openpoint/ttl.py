"""One small cache for what a process reads often and may see a little late: each value is kept
for `seconds` after it was loaded (time.monotonic, so a clock change does not matter).

It is per process and per object, never shared: a change made elsewhere is seen within
`seconds` at most. A value that is None is cached like any other (a key that does not exist
is looked up again only once the entry expires); a load that raises caches nothing.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """Values by key, each fresh for `seconds` after it was stored.

    With `max_entries`, the whole cache is emptied when a new entry would find more than that
    many (expired entries are not swept one by one; a full cache is rare and cheap to refill).
    Without it the cache holds one entry per key ever loaded, which suits small key spaces
    (projects, webhook URLs).
    """

    def __init__(
        self, seconds: float, *, max_entries: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, key: K, value: V) -> V:
        """Store `value` for `seconds` from now; returns it."""
        if self.max_entries is not None and len(self._entries) > self.max_entries:
            self._entries.clear()
        self._entries[key] = (self._clock() + self.seconds, value)
        return value

    async def get_or_load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The fresh value of `key`, else what `load()` returns, stored. Two callers that miss at
        once both load (no lock: a load is a read, and the later one wins)."""
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self._clock():
            return entry[1]
        return self.put(key, await load())

    def drop(self, key: K) -> None:
        """Forget `key` (a change this process made itself should be seen at once)."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
