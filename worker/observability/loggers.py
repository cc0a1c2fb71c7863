"""The logger names operators filter on, pinned so that moving a module never renames its log.

Each name is what the module was called when the name was first published; docs/operations.md
lists them. A new module picks a name here rather than logging under ``__name__``.
"""

from typing import Final

APP: Final = "worker.app"
CLI: Final = "worker.cli"
DAEMON: Final = "worker.daemon"
LEASING: Final = "worker.leasing"
PIPELINE: Final = "worker.pipeline"
SCHEDULER: Final = "worker.scheduler"
WATCHDOG: Final = "worker.watchdog"
PAGING: Final = "worker.providers.paging"
SARVAM: Final = "worker.providers.sarvam"
EMBEDDED: Final = "worker.storage.embedded"
FEED: Final = "worker.storage.feed"
NATS: Final = "worker.delivery.nats"
SUBSCRIBE: Final = "worker.delivery.subscribe"
WEBHOOK: Final = "worker.delivery.webhook"

ALL: Final = (
    APP,
    CLI,
    DAEMON,
    LEASING,
    PIPELINE,
    SCHEDULER,
    WATCHDOG,
    PAGING,
    SARVAM,
    EMBEDDED,
    FEED,
    NATS,
    SUBSCRIBE,
    WEBHOOK,
)
