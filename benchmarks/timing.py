"""Measuring and printing: medians of repeated runs, rates, and ratios to a reference."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def repeat(run: Callable[[], Awaitable[object]], *, times: int, warmup: int = 3) -> Timing:
    for _ in range(warmup):
        await run()
    samples: list[float] = []
    for _ in range(times):
        start = time.perf_counter()
        await run()
        samples.append(time.perf_counter() - start)
    return Timing(samples)


async def once(run: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await run()
    return time.perf_counter() - start


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:>12,.0f} rows/s  ({seconds:7.2f} s)"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def ratio(value: float, reference: float, *, what: str) -> str:
    return f"{value / reference:8.2f}× {what}" if reference > 0 else "n/a"


def share(reference_seconds: float, seconds: float, *, of: str, goal: float | None = None) -> str:
    """A rate as a share of the reference's rate (the same rows: the inverse ratio of the times),
    with the goal it is held to when given."""
    if seconds <= 0:
        return "n/a"
    percent = 100 * reference_seconds / seconds
    held = "" if goal is None else f" (goal ≥ {goal:.0f} %: {'met' if percent >= goal else 'NOT met'})"
    return f"{percent:.0f} % of {of} rate{held}"


def cost(off_seconds: float, on_seconds: float, *, goal: float | None = None) -> str:
    """What switching something on adds to the time, as a share of the time without it."""
    if off_seconds <= 0:
        return "n/a"
    percent = 100 * (on_seconds - off_seconds) / off_seconds
    held = "" if goal is None else f" (goal ≤ {goal:.0f} %: {'met' if percent <= goal else 'NOT met'})"
    return f"{percent:+.1f} %{held}"
