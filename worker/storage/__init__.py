"""PostgreSQL: the only package that speaks SQL (SQLAlchemy 2 and asyncpg).

``postgres`` implements the storage ports over ``tables`` (the schema, migrated by
``migrations/``); a page's transaction is ``writer`` (``fused``, ``rows``, ``sql``);
events leave through ``outbox`` and ``feed``; ``embedded`` runs the default server.
"""
