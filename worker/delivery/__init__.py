"""Delivery of change events to subscribers: one module per channel.

``subscribe`` (Python API with durable consumers), ``webhook`` (signed HTTP
deliveries) and ``nats`` (a JetStream relay). Each reads the outbox through the
gap-free feed and keeps its cursor in PostgreSQL.
"""
