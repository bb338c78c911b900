"""A bounded frame queue that either blocks the producer (nothing lost) or drops the oldest
item (realtime: latency stays bounded) and counts what it dropped."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class QueueClosed(Exception):
    """The queue was closed while waiting."""


class FrameQueue(Generic[T]):
    def __init__(self, maxsize: int, leaky: bool) -> None:
        if maxsize < 1:
            raise ValueError(f"FrameQueue: maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self.leaky = leaky
        self.dropped = 0
        self._items: deque[tuple[T, bool]] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: T, droppable: bool = True) -> None:
        """Add an item. Leaky queues drop the oldest droppable item when full; others wait.

        `droppable=False` (end of stream, caps changes) always gets in and is never dropped.
        """
        with self._cond:
            if self.leaky or not droppable:
                if len(self._items) >= self.maxsize and droppable:
                    self._drop_oldest_droppable()
            else:
                while len(self._items) >= self.maxsize and not self._closed:
                    self._cond.wait(0.1)
            if self._closed:
                raise QueueClosed
            self._items.append((item, droppable))
            self._cond.notify_all()

    def _drop_oldest_droppable(self) -> None:
        for i, (_, droppable) in enumerate(self._items):
            if droppable:
                del self._items[i]
                self.dropped += 1
                return

    def get(self, timeout: float | None = None) -> T | None:
        """The next item, or None after `timeout` seconds; raises QueueClosed once closed and empty."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if not self._items:
                raise QueueClosed
            item, _ = self._items.popleft()
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
