"""The installed version, importable without importing the worker."""

__version__ = "0.1.0"
