"""quiz tallies and training records

Revision ID: 5c1e9a7d2b40
Revises: 32b507bb9e8c
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '5c1e9a7d2b40'
down_revision: str | None = '32b507bb9e8c'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('quiz_tallies',
    sa.Column('site', sa.String(length=32), nullable=False),
    sa.Column('quiz', sa.String(length=64), nullable=False),
    sa.Column('question', sa.String(length=64), nullable=False),
    sa.Column('month', sa.String(length=7), nullable=False),
    sa.Column('workers', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('completions', sa.Integer(), nullable=False),
    sa.Column('passes', sa.Integer(), nullable=False),
    sa.Column('score_points', sa.Integer(), nullable=False),
    sa.Column('score_possible', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('missed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('site', 'quiz', 'question', 'month', name=op.f('pk_quiz_tallies'))
    )
    op.create_table('training_records',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('site', sa.String(length=32), nullable=False),
    sa.Column('quiz', sa.String(length=64), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('employee_ct', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_records'))
    )
    with op.batch_alter_table('training_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_training_records_completed_on'), ['completed_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_training_records_site'), ['site'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('training_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_training_records_site'))
        batch_op.drop_index(batch_op.f('ix_training_records_completed_on'))
    op.drop_table('training_records')
    op.drop_table('quiz_tallies')
