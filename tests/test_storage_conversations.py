"""storage.conversations: each sealed-document store writes its own table, and a document sealed
for one table does not open from another."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.core import Core
from storage.conversations import (
    SealedDocumentStore,
    conversation_store,
    link_store,
    notice_store,
    throttle_store,
    trace_store,
)
from storage.crypto import Crypto, DecryptionError
from storage.models import CaseLink, ChatTrace, Conversation, PendingNotice, SealedDocumentRow, StatusThrottle

STORES: dict[str, tuple[Callable[[Crypto], SealedDocumentStore], type[SealedDocumentRow]]] = {
    "conversation": (conversation_store, Conversation),
    "throttle": (throttle_store, StatusThrottle),
    "trace": (trace_store, ChatTrace),
    "notice": (notice_store, PendingNotice),
    "link": (link_store, CaseLink),
}
CANARY = "DOCUMENT-CANARY-93b1"


@pytest.mark.parametrize("kind", list(STORES))
async def test_each_store_keeps_its_documents_sealed_in_its_own_table(runtime: Core, kind: str) -> None:
    factory, model = STORES[kind]
    store = factory(runtime.crypto)
    async with runtime.database.transaction() as session:
        await store.save(session, "worker-key", {"secret": CANARY}, 100)
    async with runtime.database.transaction(write=False) as session:
        assert await store.load(session, "worker-key") == {"secret": CANARY}
        row = (await session.execute(select(model.state_ct, model.expires_hour))).one()
        for other_kind, (other_factory, _) in STORES.items():
            if other_kind != kind:
                assert await other_factory(runtime.crypto).load(session, "worker-key") is None
    assert row.expires_hour == 100 and CANARY.encode() not in row.state_ct


async def test_a_document_moved_to_another_table_does_not_open(runtime: Core) -> None:
    notices, links = notice_store(runtime.crypto), link_store(runtime.crypto)
    async with runtime.database.transaction() as session:
        await notices.save(session, "worker-key", {"n": 1}, 100)
        sealed = (await session.execute(select(PendingNotice.state_ct))).scalar_one()
        session.add(CaseLink(user_key="worker-key", state_ct=sealed, expires_hour=100))
    async with runtime.database.transaction(write=False) as session:
        with pytest.raises(DecryptionError):
            await links.load(session, "worker-key")
