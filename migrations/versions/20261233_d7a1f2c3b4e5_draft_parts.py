"""draft parts: each message of a draft account sealed in a row of its own

Revision ID: d7a1f2c3b4e5
Revises: d7a1e0c4b9f2
Create Date: 2026-12-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd7a1f2c3b4e5'
down_revision: str | None = 'd7a1e0c4b9f2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('draft_parts',
    sa.Column('user_key', sa.String(length=64), nullable=False),
    sa.Column('state_ct', sa.LargeBinary(), nullable=False),
    sa.Column('expires_hour', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('user_key', name=op.f('pk_draft_parts'))
    )
    with op.batch_alter_table('draft_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_draft_parts_expires_hour'), ['expires_hour'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('draft_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draft_parts_expires_hour'))
    op.drop_table('draft_parts')
