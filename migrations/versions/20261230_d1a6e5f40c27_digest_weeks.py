"""digest weeks: a site's weekly digest is queued once per ISO week

Revision ID: d1a6e5f40c27
Revises: a0241ca46bab
Create Date: 2026-12-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd1a6e5f40c27'
down_revision: str | None = 'a0241ca46bab'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('digest_weeks',
    sa.Column('site', sa.String(length=32), nullable=False),
    sa.Column('week', sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint('site', 'week', name=op.f('pk_digest_weeks'))
    )


def downgrade() -> None:
    op.drop_table('digest_weeks')
