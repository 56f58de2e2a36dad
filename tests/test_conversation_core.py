"""Durability and safety of the conversation core: restarts, expiry, receipts, throttling."""

from __future__ import annotations

import pytest

from bot.config import Config
from bot.core import Core, build_core
from bot.jobs.cleaner import ExpiredRowCleaner
from handlers.context import Context
from handlers.conversation import State
from handlers.dispatcher import UNREADABLE_COUNTER
from handlers.faq.service import LibraryFaqService
from storage.crypto import KeyRing
from storage.delivery import delivery_counts
from storage.models import CaseLink
from storage.models import Conversation as ConversationRow

from .conftest import Clock, Worker, conversation_with_account
from .flows import RECEIPT_LINE, receipt_in, reference_in, report_script


async def start_report(worker: Worker, *story: str) -> None:
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("agree")
    for line in story:
        await worker.send(line)


async def conversation_state(runtime: Core, worker: Worker) -> dict[str, object]:
    async with runtime.database.transaction(write=False) as session:
        document = await conversation_with_account(runtime.crypto, session, worker.user_key)
    assert document is not None
    return document


async def file_report(worker: Worker, story: str = "he touched me") -> str:
    await worker.send("/start")
    for line in report_script([story]):
        await worker.send(line.get("text"), choice=line.get("choice"))
    return receipt_in(worker.text)


async def test_draft_survives_a_restart_and_is_shown_only_when_asked(
    config: Config, keyring: KeyRing, clock: Clock
) -> None:
    first = await build_core(config, keyring=keyring, clock=clock)
    await start_report(Worker(first, "w"), "The driver grabbed my arm on the bus")
    await first.close()

    second = await build_core(config, keyring=keyring, clock=clock)
    try:
        worker = Worker(second, "w")
        await worker.send("/start")
        await worker.choose("report")
        assert worker.choices == ["resume", "review", "discard", "danger"]
        assert "driver" not in worker.text
        await worker.choose("resume")
        assert "Saved (1 messages)" in worker.text
        assert "driver" not in worker.text
        await worker.send("It happened twice")
        await worker.choose("done")
        assert "What kind of harassment" in worker.text
        await worker.send("/start")
        await worker.choose("report")
        await worker.choose("review")
        assert "driver grabbed my arm" in worker.text and "It happened twice" in worker.text
    finally:
        await second.close()


async def test_draft_expires_after_its_lifetime(runtime: Core, worker: Worker, clock: Clock) -> None:
    await start_report(worker, "a secret story")
    clock.advance(hours=23)
    await worker.send("more")
    assert (await conversation_state(runtime, worker))["draft"] is not None
    clock.advance(hours=24, seconds=1)
    await worker.send("even more")
    assert "expired and was deleted" in worker.text
    state = await conversation_state(runtime, worker)
    assert state["draft"] is None and state["state"] == State.MENU


async def test_unconfirmed_receipt_gets_another_and_both_open(runtime: Core, worker: Worker) -> None:
    worker.confirm_receipts = False  # the reply with the receipt never reached the worker
    first = await file_report(worker)
    reference = reference_in(worker.text)
    worker.confirm_receipts = True
    await worker.send("/start")
    second = receipt_in(worker.text)
    assert second != first and reference in worker.text
    await worker.send("/start")
    assert "receipt" not in worker.text.lower(), "a confirmed receipt must not be shown again"

    for receipt in (first, second):  # the worker may have written down the first one already
        other = Worker(runtime, f"other-phone-{receipt}")
        await other.choose("status")
        await other.send(receipt)
        assert reference in other.text


async def test_wrong_receipts_slow_down_only_the_sender(runtime: Core, clock: Clock) -> None:
    receipt = await file_report(Worker(runtime, "reporter"))
    attacker, victim = Worker(runtime, "attacker"), Worker(runtime, "victim")
    await attacker.choose("status")
    for _ in range(3):
        await attacker.send("2222-3333-4444-5555")
        assert "No report matches" in attacker.text
    await attacker.send(receipt)
    assert "Too many wrong receipts" in attacker.text and "HAP-" not in attacker.text

    await victim.choose("status")
    await victim.send(receipt)
    assert "HAP-" in victim.text, "another worker must not be locked out"

    clock.advance(seconds=6)
    await attacker.send("2222-3333-4444-6666")
    await attacker.send(receipt)
    assert "Too many wrong receipts" in attacker.text, "the delay must grow after another failure"
    clock.advance(seconds=11)
    await attacker.send(receipt)
    assert "HAP-" in attacker.text


async def test_status_session_ends_after_its_lifetime(runtime: Core, clock: Clock) -> None:
    receipt = await file_report(Worker(runtime, "reporter"))
    reader = Worker(runtime, "reader")
    await reader.choose("status")
    await reader.send(receipt)
    clock.advance(minutes=11)
    await reader.choose("add_info")
    assert "enter your receipt again" in reader.text
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.links.load(session, reader.user_key) is None, "the link is gone"


async def test_edit_from_review_returns_to_review(runtime: Core, worker: Worker) -> None:
    await worker.send("/start")
    for line in report_script(["story"])[:-1]:
        await worker.send(line.get("text"), choice=line.get("choice"))
    assert "submit" in worker.choices
    await worker.choose("edit")
    await worker.choose("edit_category")
    await worker.choose("physical")
    assert "Type: Touching or physical acts" in worker.text and "submit" in worker.choices


async def test_danger_at_any_step_shows_emergency_numbers_and_marks_urgent(runtime: Core, worker: Worker) -> None:
    await start_report(worker, "he is outside my dormitory")
    await worker.choose("done")
    await worker.choose("danger")
    assert "110" in worker.text and "0755-1234567" in worker.text
    assert "What kind of harassment" in worker.text, "the question is asked again"
    assert (await conversation_state(runtime, worker))["draft"]["urgency"] == "danger_now"  # type: ignore[index]


async def test_submitted_report_leaves_no_trace_in_the_conversation(runtime: Core, worker: Worker) -> None:
    await file_report(worker, "a story that must not stay in the conversation")
    state = await conversation_state(runtime, worker)
    assert state["draft"] is None
    assert not any("receipt" in key or "case" in key for key in state), "case links are never in the conversation"
    assert "story" not in repr(state)


async def test_case_links_lapse_by_themselves_even_if_the_worker_never_writes_again(
    runtime: Core, clock: Clock
) -> None:
    reporter = Worker(runtime, "reporter")
    receipt = await file_report(reporter)
    reader = Worker(runtime, "reader")
    await reader.choose("status")
    await reader.send(receipt)  # opens a status session: a sealed link for a few minutes
    links = runtime.services.links
    assert links is not None
    async with runtime.database.transaction(write=False) as session:
        assert await links.load(session, reporter.user_key) is not None, "a minute's grace for WeChat retries"
        assert await links.load(session, reader.user_key) is not None
    clock.advance(hours=2)
    cleaned = await ExpiredRowCleaner(runtime.database, runtime.services.clock).run_once()
    assert cleaned.get("case_links", 0) == 2
    async with runtime.database.transaction(write=False) as session:
        assert await links.count(session) == 0


async def test_a_failing_message_in_a_batch_is_rolled_back_alone(
    runtime: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers = [Worker(runtime, f"batch-{i}") for i in range(3)]
    for worker in workers:
        await start_report(worker)
    import handlers.report as report_module

    original = report_module.on_what

    async def explode_on_poison(ctx: Context) -> None:
        if ctx.text == "POISON":
            raise RuntimeError("a bug in a handler")
        await original(ctx)

    monkeypatch.setitem(runtime.dispatcher._router._on, State.REPORT_WHAT, explode_on_poison)
    texts = ["first story", "POISON", "third story"]
    incomings = [w.channel.incoming(text) for w, text in zip(workers, texts, strict=True)]
    outcomes = await runtime.dispatcher.handle_many(incomings)
    assert "Saved (1 messages)" in outcomes[0].replies[0].text
    assert "went wrong" in outcomes[1].replies[0].text and "Traceback" not in outcomes[1].replies[0].text
    assert "Saved (1 messages)" in outcomes[2].replies[0].text
    states = [await conversation_state(runtime, w) for w in workers]
    assert [s["draft"]["what"] for s in states] == [["first story"], [], ["third story"]]  # type: ignore[index]


async def test_emergency_words_work_even_when_a_draft_just_expired(
    runtime: Core, worker: Worker, clock: Clock
) -> None:
    await start_report(worker, "a story")
    clock.advance(hours=25)
    await worker.send("救命")
    assert "110" in worker.text
    await worker.choose("status")
    await worker.send("110")
    assert "110" in worker.text and "does not look like a receipt" not in worker.text


async def test_discarding_an_unfinished_report_asks_first(runtime: Core, worker: Worker) -> None:
    await start_report(worker, "keep me")
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("discard")
    assert {"cancel_yes", "cancel_no"} <= set(worker.choices)
    await worker.choose("cancel_no")
    assert (await conversation_state(runtime, worker))["draft"]["what"] == ["keep me"]  # type: ignore[index]


# --- rows this process cannot open ---------------------------------------------------------------

CANNOT_OPEN = "try again in a few minutes"


async def raw_rows(runtime: Core, user_key: str) -> tuple[bytes | None, bytes | None]:
    """The sealed bytes of a worker's conversation row and case-link row, as stored."""
    async with runtime.database.transaction(write=False) as session:
        rows = [await session.get(model, user_key) for model in (ConversationRow, CaseLink)]
    return tuple(bytes(row.state_ct) if row is not None else None for row in rows)  # type: ignore[return-value]


async def unreadable_count(runtime: Core) -> int:
    async with runtime.database.transaction(write=False) as session:
        return (await delivery_counts(session)).get(UNREADABLE_COUNTER, 0)


async def test_a_replica_on_old_keys_never_overwrites_a_draft_written_after_rotation(
    config: Config, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService, caplog: pytest.LogCaptureFixture
) -> None:
    old = await build_core(config, keyring=keyring, clock=clock, faq=faq_service)
    new = await build_core(config, keyring=keyring.with_new_master_key(), clock=clock, faq=faq_service)
    try:
        rotated = Worker(new, "rotated")
        await start_report(rotated, "written after the rotation")
        before = await raw_rows(new, rotated.user_key)
        assert before[0] is not None
        stale = Worker(old, "rotated")  # the same worker, whose next message reaches the old replica
        assert stale.user_key == rotated.user_key
        await stale.send("one more thing")
        assert CANNOT_OPEN in stale.text and stale.choices == []
        await stale.choose("report")
        assert CANNOT_OPEN in stale.text
        assert await old.dispatcher.wants_pictures(stale.user_key) is False
        assert await raw_rows(new, rotated.user_key) == before, "the old replica rewrote a row it cannot read"
        assert await unreadable_count(new) == 2
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert rotated.user_key not in logged and "one more thing" not in logged

        await rotated.send("one more thing")  # with the right keys the work resumes where it was
        assert "Saved (2 messages)" in rotated.text
        draft = (await conversation_state(new, rotated))["draft"]
        assert draft["what"] == ["written after the rotation", "one more thing"]  # type: ignore[index]
    finally:
        await old.close()
        await new.close()


async def test_a_damaged_case_link_is_left_alone_and_the_receipt_still_comes(runtime: Core) -> None:
    worker = Worker(runtime, "damaged-link")
    worker.confirm_receipts = False  # the receipt reply may not have arrived: the case link remembers it
    first = await file_report(worker)
    conversation_bytes, link_bytes = await raw_rows(runtime, worker.user_key)
    assert conversation_bytes is not None and link_bytes is not None
    damaged = link_bytes[:-1] + bytes([link_bytes[-1] ^ 1])
    async with runtime.database.transaction() as session:
        (await session.get(CaseLink, worker.user_key)).state_ct = damaged  # type: ignore[union-attr]
    await worker.send("hello?")
    assert CANNOT_OPEN in worker.text and not RECEIPT_LINE.search(worker.text)
    assert await raw_rows(runtime, worker.user_key) == (conversation_bytes, damaged)
    assert await unreadable_count(runtime) == 1

    async with runtime.database.transaction() as session:  # the row readable again (the key is back)
        (await session.get(CaseLink, worker.user_key)).state_ct = link_bytes  # type: ignore[union-attr]
    await worker.send("hello?")
    assert receipt_in(worker.text) != first, "the owed receipt comes with the next message"
