"""The equivalence fleet: one scripted fleet of every provider, synced through several epochs,
and every row it leaves in the store, in a canonical form a fixture can hold.

``fleet`` is the script (simulators on a manual clock, the real pipeline through
``tests.scenarios.harness``); ``rows`` reads what a store holds after it (PostgreSQL with SQL,
the in-memory store from its state), makes it canonical and compares it with the fixture under
``tests/fixtures/equivalence/``. ``tests/storage/test_equivalence.py`` says what is compared,
what is left out and why, and how to record the fixture again.
"""
