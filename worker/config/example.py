"""The commented example configuration, from a wheel or from a source checkout.

A wheel (what the container image installs) carries ``config/example.yaml`` as
``worker/example.yaml``; a checkout (an editable install) has it at the top of
the repository. Messages point users at ``campaign-sync config example``, which
prints it, rather than at a path that exists in only one of the two.
"""

from __future__ import annotations

from pathlib import Path

from worker.errors import ConfigError

__all__ = ["example_config"]

_PACKAGE = Path(__file__).resolve().parent.parent


def example_config() -> str:
    """The text of the example configuration.

    Raises:
        ConfigError: neither the installed copy nor the checkout's is there (a broken
            install).
    """
    for candidate in (_PACKAGE / "example.yaml", _PACKAGE.parent / "config" / "example.yaml"):
        if candidate.is_file():
            return candidate.read_text()
    raise ConfigError(f"the example configuration is missing next to {_PACKAGE}: reinstall")
