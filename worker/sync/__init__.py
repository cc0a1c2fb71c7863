"""One cycle of one target: list pages, decide each page in pure code, write it, report the run.

``pipeline`` drives a cycle under the target's lease; ``page`` is the thin I/O shell around the
pure page planner; ``listing`` reads a page's entries; ``prefetch`` overlaps HTTP with writes;
``leasing`` keeps the lease; ``drift_reports`` and ``cycle_report`` say what the cycle saw.
"""
