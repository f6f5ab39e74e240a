"""PostgreSQL: the tables, the engine factory and the Alembic migrations."""
