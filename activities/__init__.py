"""Temporal activities: everything that touches the database, providers or templates."""
