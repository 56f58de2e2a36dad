"""Group commit (WeChat): a delivery confirmation rides in the next batch's transaction instead of
paying a commit of its own, and still does what ``Dispatcher.confirm_delivery`` does."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wechat.group_commit import GroupCommit
from bot.core import Core
from handlers.events import Channel, Incoming, Outcome

from .flows import RECEIPT_LINE, receipt_in, report_script


async def claim_everything(_session: AsyncSession, tickets: Sequence[int]) -> list[bool]:
    return [True] * len(tickets)


class GroupWorker:
    def __init__(self, runtime: Core, group: GroupCommit[int], name: str) -> None:
        self.runtime, self.group, self.name = runtime, group, name
        self.sent = 0

    @property
    def last_key(self) -> str:
        return f"{self.name}-{self.sent}"

    async def send(self, text: str | None = None, choice: str | None = None) -> Outcome:
        self.sent += 1
        incoming = Incoming(channel=Channel.WECHAT, user_key=f"key-{self.name}", chat=self.name,
                            received_at=self.runtime.services.clock(), text=text, choice=choice,
                            language_hint="en", message_key=f"{self.name}-{self.sent}")
        return await self.group.handle(incoming, self.sent)


def text_of(outcome: Outcome) -> str:
    return "\n".join(reply.text for reply in outcome.replies)


async def test_a_confirmation_joins_the_next_batch_and_the_receipt_is_not_owed_again(runtime: Core) -> None:
    group: GroupCommit[int] = GroupCommit(runtime.dispatcher, claim_everything)
    mei, lan = GroupWorker(runtime, group, "mei"), GroupWorker(runtime, group, "lan")
    await mei.send("hello")
    await lan.send("hello")
    outcome = Outcome()
    for step in report_script(["He waits for me at the dormitory door"]):
        outcome = await mei.send(text=step.get("text"), choice=step.get("choice"))
    receipt_in(text_of(outcome))
    assert outcome.needs_delivery_confirmation
    commits: list[str] = []
    event.listen(runtime.database.engine.sync_engine, "commit", lambda _conn: commits.append("commit"))
    await asyncio.gather(group.confirm_delivery("key-mei", mei.last_key), lan.send("hello again"))
    assert commits == ["commit"], "the confirmation and lan's message commit together"
    assert not RECEIPT_LINE.search(text_of(await mei.send("thank you"))), "delivered: no receipt owed"


async def test_without_the_confirmation_the_next_message_brings_a_fresh_receipt(runtime: Core) -> None:
    """The control for the test above: an unconfirmed receipt is owed and shown again."""
    group: GroupCommit[int] = GroupCommit(runtime.dispatcher, claim_everything)
    mei = GroupWorker(runtime, group, "mei")
    await mei.send("hello")
    for step in report_script(["He waits for me at the dormitory door"]):
        first = await mei.send(text=step.get("text"), choice=step.get("choice"))
    assert receipt_in(text_of(await mei.send("thank you"))) != receipt_in(text_of(first))


async def test_a_confirmation_alone_is_committed(runtime: Core) -> None:
    group: GroupCommit[int] = GroupCommit(runtime.dispatcher, claim_everything)
    mei = GroupWorker(runtime, group, "mei")
    await mei.send("hello")
    for step in report_script(["He waits for me at the dormitory door"]):
        await mei.send(text=step.get("text"), choice=step.get("choice"))
    await group.confirm_delivery("key-mei", mei.last_key)
    assert not RECEIPT_LINE.search(text_of(await mei.send("thank you")))


async def test_a_confirmation_alone_leaves_the_workers_held_notice_for_her_next_message(runtime: Core) -> None:
    group: GroupCommit[int] = GroupCommit(runtime.dispatcher, claim_everything)
    mei = GroupWorker(runtime, group, "mei")
    await mei.send("hello")
    for step in report_script(["He waits for me at the dormitory door"]):
        await mei.send(text=step.get("text"), choice=step.get("choice"))
    async with runtime.database.transaction() as session:  # as the reporter-notice job holds one
        await runtime.services.notices.save(session, "key-mei", {"held": True}, 10**6)
    await group.confirm_delivery("key-mei", mei.last_key)
    assert "new message about your report" in text_of(await mei.send("thank you"))


async def test_a_confirmation_applies_only_to_the_receipt_of_the_message_it_answered(runtime: Core) -> None:
    """A's reply was delivered; meanwhile B reissued the receipt and B's reply is still on its way.
    A's confirmation must not mark B's receipt delivered, or the receipt B promised is never shown."""
    group: GroupCommit[int] = GroupCommit(runtime.dispatcher, claim_everything)
    mei = GroupWorker(runtime, group, "mei")
    await mei.send("hello")
    for step in report_script(["He waits for me at the dormitory door"]):
        await mei.send(text=step.get("text"), choice=step.get("choice"))
    first = mei.last_key
    reissued = receipt_in(text_of(await mei.send("are you there?")))  # B: the receipt again
    await group.confirm_delivery("key-mei", first)  # A's confirmation, late
    again = text_of(await mei.send("hello?"))
    assert RECEIPT_LINE.search(again) and receipt_in(again) != reissued, "B's receipt is still owed"
    await group.confirm_delivery("key-mei", mei.last_key)
    assert not RECEIPT_LINE.search(text_of(await mei.send("thanks")))
