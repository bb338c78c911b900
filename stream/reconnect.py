"""Reconnection policy: exponential backoff with jitter (1 s, 2 s, 5 s, 10 s ... capped).

A pure, clock-free object so it is tested without sockets; `SourceSupervisor` asks it for the
next delay after each loss and resets it once frames flow again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ganstream.stream.errors import ConfigError

_STEPS = (1.0, 2.0, 5.0)  # one decade of the 1-2-5 series; later decades multiply by 10


@dataclass(frozen=True)
class ReconnectOptions:
    enabled: bool = True
    initial_s: float = 1.0  # first delay; the series scales from it (1, 2, 5, 10, 20, 50 ... x initial)
    max_s: float = 30.0  # cap on any one delay
    jitter: float = 0.2  # each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]
    max_attempts: int | None = None  # None: forever (24/7 feeds)
    stall_timeout_s: float = 10.0  # a source silent this long (and not blocked downstream) is reconnected
    teardown_timeout_s: float = 3.0  # a source pipeline that won't stop in this time is abandoned

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ConfigError(f"backoff: need 0 < initial ({self.initial_s}) <= max ({self.max_s}) seconds")
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"backoff jitter must be in [0, 1), got {self.jitter}")
        if self.max_attempts is not None and self.max_attempts < 0:
            raise ConfigError(f"reconnect attempts must be >= 0, got {self.max_attempts}")
        if self.stall_timeout_s <= 0:
            raise ConfigError(f"stall timeout must be > 0 seconds, got {self.stall_timeout_s}")


def nominal_delay(attempt: int, initial_s: float, max_s: float) -> float:
    """Delay before reconnection attempt `attempt` (0-based), before jitter: 1, 2, 5, 10, 20, 50 ..."""
    decade, step = divmod(attempt, len(_STEPS))
    return min(max_s, initial_s * _STEPS[step] * 10.0**decade)


class Backoff:
    def __init__(self, options: ReconnectOptions, rng: random.Random | None = None) -> None:
        self.options = options
        self.attempt = 0
        self._rng = rng or random.Random()

    @property
    def exhausted(self) -> bool:
        limit = self.options.max_attempts
        return limit is not None and self.attempt >= limit

    def next_delay(self) -> float:
        """The delay before the next attempt (jittered, never above the cap); counts the attempt."""
        o = self.options
        base = nominal_delay(self.attempt, o.initial_s, o.max_s)
        self.attempt += 1
        delay = base * (1.0 + self._rng.uniform(-o.jitter, o.jitter))
        if delay > o.max_s:  # at the cap, jitter downwards so clients still spread out
            delay = o.max_s * (1.0 - self._rng.uniform(0.0, o.jitter))
        return delay

    def reset(self) -> None:
        """Frames flow again: the next loss starts from the first delay."""
        self.attempt = 0
