"""What CLI commands share: settings, engine, and the project-local state directories."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from services.core.db.engine import make_engine
from services.core.settings import Settings


def project_dir() -> Path:
    """Where `standings up` keeps its data: $STANDINGS_HOME or the current directory."""
    return Path(os.environ.get("STANDINGS_HOME", ".")).resolve()


def state_dir() -> Path:
    return project_dir() / ".state"


def data_dir() -> Path:
    return project_dir() / "data"


def load_settings() -> Settings:
    return Settings()


def engine_for(settings: Settings) -> Engine:
    return make_engine(settings.database, pool_size=2)
