"""The shop API's faults: throttling (429), unavailability (503), errors (500) and slow answers.

Deterministic: the same `Faults` (seed included) and the same sequence of requests give the same answers.
`script` fixes the first answers (tests); then each request draws one uniform number against the
probabilities, in the order 429, 503, 500, slow.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

KINDS = ("429", "503", "500", "slow", "ok")


@dataclass(frozen=True)
class Faults:
    """Probabilities per request (they add up to at most 1) and how the faults look."""

    seed: int = 0
    throttled: float = 0.0  # 429 with Retry-After
    unavailable: float = 0.0  # 503 with Retry-After
    error: float = 0.0  # 500
    slow: float = 0.0  # the answer comes after slow_seconds
    slow_seconds: float = 2.0
    retry_after: tuple[int, int] = (0, 1)  # Retry-After drawn from this range (seconds)
    script: tuple[str, ...] = ()  # the first answers, before the dice: "429", "503", "500", "slow", "ok"

    def __post_init__(self) -> None:
        chances = (self.throttled, self.unavailable, self.error, self.slow)
        if any(p < 0 for p in chances) or sum(chances) > 1:
            raise ValueError(f"fault probabilities must be >= 0 and add up to at most 1, not {chances}")
        if set(self.script) - set(KINDS):
            raise ValueError(f"script: unknown fault(s) {sorted(set(self.script) - set(KINDS))}; use {KINDS}")
        if not 0 <= self.retry_after[0] <= self.retry_after[1]:
            raise ValueError(f"retry_after: a range of seconds (low, high), not {self.retry_after}")

    @classmethod
    def uniform(cls, rate: float, seed: int = 0, **options: Any) -> Faults:
        """Each of the four faults at `rate` (so 4 x rate of the requests are hit)."""
        return cls(seed=seed, throttled=rate, unavailable=rate, error=rate, slow=rate, **options)


class Dice:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = random.Random(faults.seed)
        self._script = list(faults.script)
        self._lock = threading.Lock()

    def roll(self) -> tuple[str, int]:
        """(fault, retry_after) for the next request; fault "ok" means none."""
        f = self.faults
        with self._lock:
            retry_after = self._rng.randint(*f.retry_after)
            if self._script:
                return self._script.pop(0), retry_after
            u = self._rng.random()
            for fault, p in (
                ("429", f.throttled),
                ("503", f.unavailable),
                ("500", f.error),
                ("slow", f.slow),
            ):
                if u < p:
                    return fault, retry_after
                u -= p
            return "ok", retry_after
