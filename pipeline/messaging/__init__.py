"""Kafka messaging: the outbox relay (producer side) and idempotent, offset-keeping consumers.

Only production mode uses it (KAFKA_BOOTSTRAP_SERVERS set); the embedded
default keeps events in the outbox table.
"""
