"""Each provider API as an ASGI app, one module per provider, for tests, the demo and
the bench: the wire formats of docs/providers.md, with fault knobs (``faults``)."""
