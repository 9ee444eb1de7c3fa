"""The worker's garbage-collector policy around a whole rebuild of its device cache.

Owns :func:`rebuilding`. It only sets CPython's collector (process-wide), never touches the cache: the
registry watcher wraps each whole reload in it. See :func:`ingest.runner.tune_interpreter` for the
policy of the rest of the process.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Full collections held off while a snapshot is built: a threshold no count of young collections
# reaches in one reload.
_NEVER = 1 << 30

_lock = threading.Lock()
_depth = 0
_oldest = 0


@contextmanager
def rebuilding() -> Iterator[None]:
    """No full collection while the block builds a snapshot; afterwards, everything alive is frozen.

    A full (generation 2) collection walks every tracked object with the GIL held, in one C call: at
    2,000,000 devices, four or five of them during a reload stalled the worker's loop 0.8-2.2 s each
    (the snapshot being built adds millions of objects, which sets them off). Afterwards the cache's
    objects, which live until the next reload, are moved out of the collector's sight
    (``gc.freeze``, as :func:`ingest.runner.tune_interpreter` does at start-up) so that no later full
    collection walks them either. The price: a reference cycle alive at that moment and dropped
    later is never collected (frozen objects are still freed by their reference counts).
    """
    global _depth, _oldest  # noqa: PLW0603 (one collector per process: its setting is process-wide)
    with _lock:
        if _depth == 0:
            young, older, _oldest = gc.get_threshold()
            gc.set_threshold(young, older, _NEVER)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                young, older, _ = gc.get_threshold()
                gc.set_threshold(young, older, _oldest)
                gc.freeze()
