"""audit log as a hash chain: entry positions, hashes and MACs, and the chain head

Revision ID: d7a1e0c4b9f2
Revises: de0d11e5ca5e
Create Date: 2026-12-30 10:00:00.000000

Existing entries keep NULL chain columns here: chaining them needs the audit key, which the
database never holds. The first start with an audit key (storage.audit.open_chain) links them
into the chain in the order they were written (time, then id), before any new entry.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd7a1e0c4b9f2'
down_revision: str | None = 'de0d11e5ca5e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('mac', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_position'), ['position'])
    op.create_table(
        'audit_chain_head',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('position', sa.BigInteger(), nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('mac', sa.String(length=64), nullable=True),
        sa.Column('key_check', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head')),
    )


def downgrade() -> None:
    op.drop_table('audit_chain_head')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_position'), type_='unique')
        batch_op.drop_column('mac')
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('position')
