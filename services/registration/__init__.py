"""Registration data: the import file format, its validation, and loading it into PostgreSQL."""
