"""Temporal workflow definitions only: deterministic code, no I/O, no database, no clock."""

TASK_QUEUE = "openpoint"
