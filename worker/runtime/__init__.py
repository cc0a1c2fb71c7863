"""How the worker runs: the composition root, the daemon, scheduler, watchdog and HTTP server."""
