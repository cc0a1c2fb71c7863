"""The garbage collector's settings for a worker process, applied once after start-up.

A sync cycle allocates hundreds of thousands of short-lived objects per 100 000
campaigns (records, snapshots, rows), nearly all acyclic and freed by reference
counting. CPython's default collector still counts them and, every 700 net
allocations, walks the young generation; every tenth and hundredth time, the
older ones, which after start-up hold every imported module, the SQLAlchemy
metadata and the Alembic scripts. Measured in the bench (an initial sync of
30 000 vox v3 campaigns, bench/RESULTS.md), that cost 15 % of the cycle's wall
time; frozen and collected less often, under 1 %, at the same peak RSS.

So, once the runtime is wired: collect what start-up left, freeze the survivors
(``gc.freeze``: the collector no longer walks them; they are never freed, which
they would not be anyway) and raise the young threshold. Cyclic garbage is still
collected, after :data:`YOUNG_THRESHOLD` net allocations instead of 700. Once per
process: a later call (a test that runs several commands in one process) does nothing.
"""

from __future__ import annotations

import gc

__all__ = ["OLDER_THRESHOLDS", "YOUNG_THRESHOLD", "settle_heap"]

YOUNG_THRESHOLD = 50_000
# How many collections of the generation below trigger one of generations 1 and 2.
OLDER_THRESHOLDS = (20, 100)


_settled = False


def settle_heap() -> None:
    """Collect, freeze what survives start-up, and collect less often (module docstring)."""
    global _settled  # a process-wide setting, applied once
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
