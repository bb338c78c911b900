"""The bridge's bounded queue: leaky drops the oldest frame, blocking loses nothing."""

from __future__ import annotations

import threading
import time

import pytest

from ganstream.stream.frame_queue import FrameQueue, QueueClosed


def test_leaky_queue_drops_oldest_and_counts() -> None:
    q: FrameQueue[int] = FrameQueue(2, leaky=True)
    for i in range(5):
        q.put(i)
    assert q.dropped == 3
    assert [q.get(0), q.get(0)] == [3, 4]


def test_leaky_queue_never_drops_control_items() -> None:
    q: FrameQueue[object] = FrameQueue(1, leaky=True)
    q.put("caps", droppable=False)
    q.put(1)
    q.put(2)
    q.put("eos", droppable=False)
    assert [q.get(0) for _ in range(len(q))] == ["caps", 2, "eos"]


def test_blocking_queue_waits_for_the_consumer() -> None:
    q: FrameQueue[int] = FrameQueue(1, leaky=False)
    q.put(0)
    done = threading.Event()

    def producer() -> None:
        q.put(1)
        done.set()

    t = threading.Thread(target=producer)
    t.start()
    time.sleep(0.2)
    assert not done.is_set(), "put must block while the queue is full"
    assert q.get(1) == 0
    t.join(2)
    assert done.is_set() and q.get(1) == 1 and q.dropped == 0


def test_close_wakes_waiters() -> None:
    q: FrameQueue[int] = FrameQueue(1, leaky=False)
    q.close()
    with pytest.raises(QueueClosed):
        q.get(1)
    with pytest.raises(QueueClosed):
        q.put(1)
