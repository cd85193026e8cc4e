"""elimination brackets: a division's format and bracket, bracket bouts with open slots, bracket state

Bracket bouts exist from registration with their mats and order, but who stands in their slots is
known only as the results feeding them come in: ``bouts.red_athlete_id``/``blue_athlete_id`` become
nullable, and ``bracket_bouts`` holds each position's state (SPEC §7). Existing divisions are round
robin.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(length=64, collation="C")


def upgrade() -> None:
    op.add_column("divisions", sa.Column("format", sa.String(length=32), server_default="round_robin", nullable=False))
    op.add_column("divisions", sa.Column("bracket", postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.alter_column("bouts", "red_athlete_id", existing_type=ID, nullable=True)
    op.alter_column("bouts", "blue_athlete_id", existing_type=ID, nullable=True)
    op.create_table(
        "bracket_bouts",
        sa.Column("bout_id", ID, nullable=False),
        sa.Column("tournament_id", ID, nullable=False),
        sa.Column("division_id", ID, nullable=False),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("half", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("red_athlete_id", ID, nullable=True),
        sa.Column("blue_athlete_id", ID, nullable=True),
        sa.Column("waiting_for", sa.Text(), nullable=True),
        sa.Column("winner_athlete_id", ID, nullable=True),
        sa.Column("counted_revision", sa.Integer(), nullable=True),
        sa.Column("invalidated_revision", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status in ('waiting','open','decided','bye','invalidated')", name=op.f("ck_bracket_bouts_status")
        ),
        sa.ForeignKeyConstraint(
            ["bout_id"], ["bouts.bout_id"], name=op.f("fk_bracket_bouts_bout_id_bouts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tournament_id", "division_id"],
            ["divisions.tournament_id", "divisions.division_id"],
            name=op.f("fk_bracket_bouts_tournament_id_divisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bout_id", name=op.f("pk_bracket_bouts")),
    )
    op.create_index(
        op.f("ix_bracket_bouts_tournament_id"), "bracket_bouts", ["tournament_id", "division_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_bracket_bouts_tournament_id"), table_name="bracket_bouts")
    op.drop_table("bracket_bouts")
    # A bracket bout has no fixed athletes: it cannot go back to a table that requires them.
    open_bouts = "SELECT bout_id FROM bouts WHERE red_athlete_id IS NULL OR blue_athlete_id IS NULL"
    op.execute(f"DELETE FROM results WHERE bout_id IN ({open_bouts})")
    op.execute(f"DELETE FROM bouts WHERE bout_id IN ({open_bouts})")
    op.alter_column("bouts", "blue_athlete_id", existing_type=ID, nullable=False)
    op.alter_column("bouts", "red_athlete_id", existing_type=ID, nullable=False)
    op.drop_column("divisions", "bracket")
    op.drop_column("divisions", "format")
