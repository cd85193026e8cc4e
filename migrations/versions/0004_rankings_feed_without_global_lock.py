"""ranking change feed ordered by writer transaction (no global lock); ranking requests; feed positions

The outbox used to be written under one advisory lock so change ids committed in order. Now every
row records its transaction id and readers go in ``(txid, change_id)`` order below the oldest running
transaction. Existing rows get txid 0 (all committed); the indexer's position moves from
``consumer_positions`` (group rankings-indexer) to ``feed_positions`` as ``(0, last change id)``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TXID_DEFAULT = sa.text("(pg_current_xact_id()::text)::bigint")


def upgrade() -> None:
    op.add_column("ranking_changes", sa.Column("txid", sa.BigInteger(), nullable=True))
    op.execute("UPDATE ranking_changes SET txid = 0")
    op.alter_column("ranking_changes", "txid", nullable=False, server_default=TXID_DEFAULT)
    op.create_index(op.f("ix_ranking_changes_txid"), "ranking_changes", ["txid", "change_id"], unique=False)
    op.create_table(
        "ranking_requests",
        sa.Column("request_id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("category", sa.String(length=64, collation="C"), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_ranking_requests")),
    )
    op.create_index(op.f("ix_ranking_requests_category"), "ranking_requests", ["category"], unique=False)
    op.create_table(
        "feed_positions",
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("reader", name=op.f("pk_feed_positions")),
    )
    op.execute(
        "INSERT INTO feed_positions (reader, txid, change_id) "
        "SELECT 'rankings-indexer', 0, next_offset - 1 FROM consumer_positions "
        "WHERE consumer_group = 'rankings-indexer' AND topic = 'ranking_changes' AND partition = 0"
    )
    op.execute("DELETE FROM consumer_positions WHERE consumer_group = 'rankings-indexer'")


def downgrade() -> None:
    op.execute(
        "INSERT INTO consumer_positions (consumer_group, topic, partition, next_offset) "
        "SELECT 'rankings-indexer', 'ranking_changes', 0, change_id + 1 FROM feed_positions "
        "WHERE reader = 'rankings-indexer'"
    )
    op.drop_table("feed_positions")
    op.drop_index(op.f("ix_ranking_requests_category"), table_name="ranking_requests")
    op.drop_table("ranking_requests")
    op.drop_index(op.f("ix_ranking_changes_txid"), table_name="ranking_changes")
    op.drop_column("ranking_changes", "txid")
