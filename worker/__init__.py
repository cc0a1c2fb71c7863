"""campaign-sync: poll voice-AI calling providers, keep campaign state and history, emit events.

The packages, outermost first (``pyproject.toml``'s import contracts hold the layers):

* ``cli``: the ``campaign-sync`` command; ``api``: the Python API (``subscribe``);
* ``runtime``: the composition root (``app``), daemon, scheduler and health server;
* ``sync``: one cycle of one target, the pure page planner and its I/O shell;
* ``domain``: the model, times, diff, events and each provider's reading rules (pure);
* adapters behind the small protocols of ``ports``: ``providers`` (HTTP),
  ``storage`` (PostgreSQL), ``memory`` (the same ports in memory), ``delivery``
  (webhooks, NATS); beside them ``config``, ``observability`` and ``simulators``.

Three modules every layer shares sit here: ``errors`` (the one exception tree),
``clock`` (the only reader of the time) and ``version`` (read without importing
the rest, for ``--version``).
"""

from worker.version import __version__

__all__ = ["__version__", "subscribe"]


def __getattr__(name: str) -> object:
    # ``from worker import subscribe`` without importing the whole worker for --version.
    if name == "subscribe":
        from worker.api import subscribe

        return subscribe
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
