"""campaign-sync: poll voice-AI calling providers, keep campaign state and history, emit events."""

from worker.version import __version__

__all__ = ["__version__", "subscribe"]


def __getattr__(name: str) -> object:
    # ``from worker import subscribe`` without importing the whole worker for --version.
    if name == "subscribe":
        from worker.api import subscribe

        return subscribe
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
