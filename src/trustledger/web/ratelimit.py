"""A token bucket per API key (per client address for anonymous callers).

Each key may make ``rate`` requests a second on average and up to ``2 * rate`` in a
burst. The buckets live in the server process: with several workers, each has its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from trustledger.errors import RateLimited

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, default_rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.default_rate = default_rate
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # who -> (tokens, last time)
        self._lock = threading.Lock()

    def check(self, who: str, rate: float | None = None) -> None:
        """Take one token for ``who`` or raise :class:`RateLimited` with the seconds to wait."""
        rate = rate or self.default_rate
        burst = max(2 * rate, 1.0)
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(who, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < 1:
                self._buckets[who] = (tokens, now)
                wait = math.ceil((1 - tokens) / rate)
                raise RateLimited(
                    f"rate limit: at most {rate:g} request(s) a second "
                    f"(bursts of {burst:g}); retry after {wait} s",
                    retry_after=max(wait, 1),
                )
            self._buckets[who] = (tokens - 1, now)
            if len(self._buckets) > self.MAX_BUCKETS:
                self._forget_full(now)

    #: Beyond this many callers, buckets that have refilled are dropped (a full bucket is
    #: the same as no bucket), so memory stays bounded however many addresses call.
    MAX_BUCKETS = 10_000

    def _forget_full(self, now: float) -> None:
        for who, (tokens, last) in list(self._buckets.items()):
            rate = self.default_rate
            if tokens + (now - last) * rate >= max(2 * rate, 1.0):
                del self._buckets[who]
