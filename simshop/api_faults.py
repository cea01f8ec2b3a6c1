"""The shop API's faults: throttling (429), unavailability (503), errors (500), slow and dripping answers,
and, for tests, an API broken on every answer (its cursors or its bodies).

Deterministic: the same `Faults` (seed included) and the same sequence of requests give the same answers.
`script` fixes the first answers (tests); then each request draws one uniform number against the
probabilities, in the order 429, 503, 500, slow, drip.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

KINDS = ("429", "503", "500", "slow", "drip", "ok")
# next_cursor on every page that has more after it: the cursor it was asked with (the listing never ends),
# a number, an object, an empty string, no next_cursor at all
CURSOR_FAULTS = ("ok", "repeat", "number", "object", "empty", "missing")
# every 200: an HTML page, the records without their envelope, `data` as an object, non-object values
# among the records, JSON nested deeper than a parser's recursion limit
BODY_FAULTS = ("ok", "html", "bare_list", "data_object", "stray_values", "deep")


@dataclass(frozen=True)
class Faults:
    """Probabilities per request (they add up to at most 1) and how the faults look."""

    seed: int = 0
    throttled: float = 0.0  # 429 with Retry-After
    unavailable: float = 0.0  # 503 with Retry-After
    error: float = 0.0  # 500
    slow: float = 0.0  # the answer comes after slow_seconds
    drip: float = 0.0  # the answer (status line, headers, body) comes one byte every drip_seconds
    slow_seconds: float = 2.0
    drip_seconds: float = 0.05  # shorter than a client's read timeout: only a deadline per request stops it
    retry_after: tuple[int, int] = (0, 1)  # Retry-After drawn from this range (seconds)
    script: tuple[str, ...] = ()  # the first answers, before the dice: one of KINDS each
    cursor: str = "ok"  # one of CURSOR_FAULTS: a bug of every answer, not a roll of the dice
    body: str = "ok"  # one of BODY_FAULTS: likewise

    def __post_init__(self) -> None:
        chances = (self.throttled, self.unavailable, self.error, self.slow, self.drip)
        if any(p < 0 for p in chances) or sum(chances) > 1:
            raise ValueError(f"fault probabilities must be >= 0 and add up to at most 1, not {chances}")
        if set(self.script) - set(KINDS):
            raise ValueError(f"script: unknown fault(s) {sorted(set(self.script) - set(KINDS))}; use {KINDS}")
        if not 0 <= self.retry_after[0] <= self.retry_after[1]:
            raise ValueError(f"retry_after: a range of seconds (low, high), not {self.retry_after}")
        if self.cursor not in CURSOR_FAULTS:
            raise ValueError(f"cursor: {self.cursor!r} is not one of {CURSOR_FAULTS}")
        if self.body not in BODY_FAULTS:
            raise ValueError(f"body: {self.body!r} is not one of {BODY_FAULTS}")

    @classmethod
    def uniform(cls, rate: float, seed: int = 0, **options: Any) -> Faults:
        """Each of 429, 503, 500 and slow at `rate` (so 4 x rate of the requests are hit)."""
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
                ("drip", f.drip),
            ):
                if u < p:
                    return fault, retry_after
                u -= p
            return "ok", retry_after
