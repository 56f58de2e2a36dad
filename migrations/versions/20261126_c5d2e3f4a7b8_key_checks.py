"""key-check records: refuse keys that do not belong to the store

Revision ID: c5d2e3f4a7b8
Revises: b3f1c2d4e5a6
Create Date: 2026-11-26 11:00:00

``key_checks`` holds one sealed record per master key the store uses, so a start with keys that
do not match the store is refused before it writes (``storage.key_check``). A store upgraded
from before has no records: its first start checks the keys against its sealed data instead,
then records the current key.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c5d2e3f4a7b8'
down_revision: str | None = 'b3f1c2d4e5a6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('key_checks',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('check_ct', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('key_id', name=op.f('pk_key_checks'))
    )


def downgrade() -> None:
    op.drop_table('key_checks')
