"""Benchmarks of campaign-sync against its peers: ``python -m bench --help``."""
