"""campaign-sync: poll voice-AI calling providers, keep campaign state and history, emit events."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # ``from worker import subscribe`` without importing the whole worker for --version.
    if name == "subscribe":
        from worker.app import subscribe

        return subscribe
    raise AttributeError(f"module 'worker' has no attribute {name!r}")
