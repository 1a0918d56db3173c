"""Sensors: uploads in the object store, Kafka events, and run failures."""
