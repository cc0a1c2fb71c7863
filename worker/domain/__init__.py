"""The domain: pure values and rules, no I/O and no clock reads.

The campaign model and its statuses (``campaign``), time parsing (``timestamps``,
``windows``), what a record may hold (``poison``, ``scrub``, ``records``), the diff and
its events (``diff``, ``transitions``, ``events``, ``drift``), and each provider's
reading rules (``dialects/``, one module per provider; docs/providers.md).
"""
