"""receipts in their own table, bound to their case

Revision ID: b3f1c2d4e5a6
Revises: 7ecd8fb3cd03
Create Date: 2026-11-26 10:00:00

``case_receipts`` replaces ``cases.receipt_index`` and ``cases.receipt_hash``: a case may hold a
few receipts (a reissued one is added, never swapped in), and each is bound to its case by an
argon2id hash over receipt and case id and by a keyed tag (``storage.receipts``). Receipts stored
by the old scheme cannot be bound without the receipt itself, which was never stored, and keeping
them unbound would keep the attack open (a row moved to another case would still open it): the
upgrade drops them. No store had been deployed; in a development store, old reports stay readable
by HR but their old receipts stop working. The downgrade puts back the first receipt of each
case (its hash is of the new, bound form, so the old code cannot verify it) or a unique
placeholder that matches no receipt.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b3f1c2d4e5a6'
down_revision: str | None = '7ecd8fb3cd03'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('case_receipts',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('receipt_index', sa.String(length=64), nullable=False),
    sa.Column('receipt_hash', sa.String(length=200), nullable=False),
    sa.Column('receipt_tag', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_receipts_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_receipts')),
    sa.UniqueConstraint('case_id', 'number', name='uq_case_receipts_case_number'),
    sa.UniqueConstraint('receipt_index', name=op.f('uq_case_receipts_receipt_index'))
    )
    with op.batch_alter_table('case_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_receipts_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_cases_receipt_index'), type_='unique')
        batch_op.drop_column('receipt_hash')
        batch_op.drop_column('receipt_index')


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipt_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('receipt_hash', sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE cases SET receipt_index = (SELECT r.receipt_index FROM case_receipts r "
        "WHERE r.case_id = cases.id AND r.number = 1), receipt_hash = (SELECT r.receipt_hash "
        "FROM case_receipts r WHERE r.case_id = cases.id AND r.number = 1)"
    )
    op.execute(
        "UPDATE cases SET receipt_index = 'lost-' || id, receipt_hash = '' WHERE receipt_index IS NULL"
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('receipt_index', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('receipt_hash', existing_type=sa.String(length=200), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_cases_receipt_index'), ['receipt_index'])

    with op.batch_alter_table('case_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_receipts_case_id'))
    op.drop_table('case_receipts')
