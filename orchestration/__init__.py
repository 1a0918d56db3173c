"""The wiring: the Dagster code location, executors, the embedded instance, housekeeping jobs, the CLI and the demo.

Everything here assembles the other packages; nothing below imports it.
"""
