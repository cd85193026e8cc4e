"""PostgreSQL adapter: schema, engine, migrations and repositories (every query lives in a repository)."""
