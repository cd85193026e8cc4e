"""id columns in the "C" collation (the domain's order on any locale); admin_actions audit table

Rows sharing a rank are ordered by ``athlete_id``, ranking lists by id: the domain sorts ids by
code point, and so must every reader, whatever the database's default locale (en_US.utf8 sorts
"a-b" after "ab" and folds case).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID_COLUMNS: dict[str, tuple[str, ...]] = {
    "tournaments": ("tournament_id",),
    "divisions": ("tournament_id", "division_id", "category"),
    "athletes": ("athlete_id",),
    "division_entries": ("tournament_id", "division_id", "athlete_id"),
    "bouts": ("bout_id", "tournament_id", "division_id", "red_athlete_id", "blue_athlete_id"),
    "results": ("bout_id",),
    "result_conflicts": ("tournament_id", "division_id", "bout_id"),
    "standings_rows": ("tournament_id", "division_id", "athlete_id"),
    "ranking_awards": ("tournament_id", "division_id", "athlete_id", "category"),
    "rankings": ("category", "athlete_id"),
    "ranking_changes": ("category", "athlete_id"),
}


def _collate(collation: str | None) -> None:
    for table, columns in ID_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.String(64, collation=collation), existing_nullable=False)


def upgrade() -> None:
    _collate("C")
    op.create_table(
        "admin_actions",
        sa.Column("action_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("tournament_id", sa.String(length=64, collation="C"), nullable=False),
        sa.Column("token_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_admin_actions")),
    )
    op.create_index(op.f("ix_admin_actions_tournament_id"), "admin_actions", ["tournament_id", "at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_admin_actions_tournament_id"), table_name="admin_actions")
    op.drop_table("admin_actions")
    _collate(None)
