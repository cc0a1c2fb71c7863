"""campaign-sync: poll voice-AI calling providers, keep campaign state and history, emit events."""

__version__ = "0.1.0"
