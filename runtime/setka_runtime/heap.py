"""What the cyclic garbage collector walks: the objects start-up made are left out of its passes.

A consumer's batch or an import's chunk makes many objects that live through a few young
collections, reach the oldest generation and set off full passes; each full pass otherwise walks
every object in the process (modules, classes, mappers, schemas — most of the heap), again and
again. Frozen (:func:`gc.freeze`), they are left out; objects made later are collected as before.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

_for_good = False
"""Whether a service froze its start-up (for the life of the process)."""
_blocks = 0
"""Blocks of :func:`left_alone` running in this process."""
_froze_here = False
"""Whether those blocks froze the heap (and unfreeze it when the last ends)."""


def freeze_start_up() -> None:
    """Once a process, when a service has started: leave what start-up made out of the collector's
    full passes for good (a fifth of the events service's CPU in the inbound benchmark)."""
    global _for_good
    if _for_good:
        return
    _for_good = True
    gc.collect()
    gc.freeze()


@contextlib.contextmanager
def left_alone() -> Iterator[None]:
    """For the block (an import: a fifth of its time went on full passes), the objects from before
    it are left out of the collector's full passes; garbage is still collected, only cycles among
    those objects wait until the last such block ends. A freeze for good is never undone here."""
    global _blocks, _froze_here
    if _blocks == 0 and gc.get_freeze_count() == 0:
        gc.freeze()
        _froze_here = True
    _blocks += 1
    try:
        yield
    finally:
        _blocks -= 1
        if _blocks == 0 and _froze_here:
            _froze_here = False
            if not _for_good:
                gc.unfreeze()
