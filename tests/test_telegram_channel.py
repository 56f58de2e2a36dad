"""The Telegram channel end to end: the real PTB stack over HTTP against the Bot API emulator."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.channels.telegram.setup import publish_commands
from bot.core import Core
from storage.cases import CaseStatus
from storage.journal import UpdateJournal
from storage.models import Case

from .flows import RECEIPT_LINE, receipt_in, reference_in
from .telegram_emulator import TelegramEmulator
from .telegram_emulator.helpers import wait_until
from .telegram_harness import TelegramWorker, running_channel
from .test_images import canaries_in, loaded_jpeg, loaded_png, planted_in


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


async def file_report(worker: TelegramWorker, *, involved: str = "No: a co-worker") -> str:
    await worker.tap("Report harassment (anonymous)")
    assert "Before you report" in worker.last_text()
    await worker.tap("I understand, continue")
    await worker.say("The line leader keeps touching my shoulders")
    await worker.tap("Done")
    await worker.tap("Touching or physical acts")
    await worker.tap("This week")
    await worker.tap("Workshop or production line")
    await worker.tap(involved)
    await worker.tap("Skip")
    await worker.tap("Not urgent")
    await worker.tap("No, I will check with my receipt")
    assert "Please check your report" in worker.last_text()
    await worker.tap("Submit the report")
    return worker.all_text()


async def test_deep_link_report_receipt_and_status_from_another_chat(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu):
        mei = TelegramWorker(emu, "Mei")
        await mei.say("/start north")
        assert "North Plant" in mei.all_text()
        assert mei.buttons()[0] == "Report harassment (anonymous)"
        shown = await file_report(mei)
        receipt, reference = receipt_in(shown), reference_in(shown)

        async with runtime.database.transaction(write=False) as session:
            case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None and case.site == "north" and case.status is CaseStatus.RECEIVED

        # The report's own messages are deleted from the chat; the receipt message stays until /hide.
        def visible() -> str:
            return "\n".join(str(m.get("text", "")) for m in mei.messages())

        await wait_until(lambda: "touching my shoulders" not in visible(), 10)
        assert receipt in visible()
        assert "Please check your report" not in visible()

        other = TelegramWorker(emu, "Lin")
        await other.say("/status")
        await other.say(receipt.lower().replace("-", " "))
        assert reference in other.last_text() and "Received, waiting for HR" in other.last_text()

        await mei.say("/hide")
        await wait_until(lambda: receipt not in visible(), 10)


async def test_same_update_three_times_makes_one_case(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu) as channel:
        mei = TelegramWorker(emu, "Mei")
        await mei.say("/start")
        await mei.tap("Report harassment (anonymous)")
        await mei.tap("I understand, continue")
        await mei.say("story")
        for label in ("Done", "Words: comments, jokes, sounds", "Skip", "Skip", "No: a co-worker", "Skip",
                      "Not urgent", "No, I will check with my receipt"):
            await mei.tap(label)
        review = mei.bot_messages()[-1]
        before = len(emu.calls("sendMessage"))
        submit = emu.tap_button(mei.id, chat_id=mei.id, message_id=review["message_id"], text="Submit the report")
        await wait_until(lambda: len(emu.calls("sendMessage")) > before, 10)
        # Telegram delivers the same update again (twice), as it does when unsure we received it.
        emu.redeliver(submit["update_id"])
        emu.redeliver(submit["update_id"])
        await wait_until(lambda: not emu.pending_updates(), 10)
        await channel.process_pending()
        async with runtime.database.transaction(write=False) as session:
            cases = (await session.execute(select(func.count()).select_from(Case))).scalar_one()
            pending = await UpdateJournal(runtime.crypto).count_pending(session, "telegram")
        assert cases == 1 and pending == 0
        assert len(RECEIPT_LINE.findall(mei.all_text())) == 1, "the duplicate must not show a second receipt"


async def test_hide_in_the_same_batch_as_a_message_deletes_that_message_and_its_replies(
    runtime: Core, emu: TelegramEmulator
) -> None:
    async with running_channel(runtime, emu, polling=False) as channel:
        mei = TelegramWorker(emu, "Mei")
        await channel.ingest([emu.send_text(mei.id, "/start")])
        await channel.process_pending()
        assert len(mei.messages()) >= 2
        await channel.ingest([emu.send_text(mei.id, "/help"), emu.send_text(mei.id, "/hide")])  # one getUpdates batch
        await channel.process_pending()
        left = mei.messages()
        assert len(left) == 1 and "could be deleted are gone" in str(left[0].get("text")), "only the notice stays"


@pytest.mark.parametrize("make", [loaded_jpeg, loaded_png], ids=["jpeg", "png"])
async def test_photo_evidence_keeps_no_metadata(runtime: Core, emu: TelegramEmulator, make: object) -> None:
    original = make()  # type: ignore[operator]
    assert planted_in(original), "the test picture must carry metadata to strip"
    async with running_channel(runtime, emu):
        mei = TelegramWorker(emu, "Mei")
        await mei.say("/start")
        await mei.tap("Report harassment (anonymous)")
        await mei.tap("I understand, continue")
        await mei.say("He sent me this picture")
        await mei.send_photo(original)
        for label in ("Done", "Messages, pictures or videos", "Skip", "Skip", "No: a co-worker", "Skip",
                      "Not urgent", "No, I will check with my receipt"):
            await mei.tap(label)
        assert "Files attached: 1" in mei.last_text()
        await mei.tap("Submit the report")
        reference = reference_in(mei.all_text())
    evidence = runtime.services.evidence
    assert evidence is not None
    async with runtime.database.transaction(write=False) as session:
        case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None
        files = await evidence.files(session, case.id)
    assert len(files) == 1
    mime, data = files[0]
    assert mime == "image/jpeg" and not canaries_in(data)
    with Image.open(io.BytesIO(data)) as stored:
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(stored.info)


async def test_reload_works_for_configured_admins_only(runtime: Core, emu: TelegramEmulator) -> None:
    reloads: list[int] = []

    async def reload() -> str:
        reloads.append(1)
        return "FAQ reloaded: the new content is live."

    admin = TelegramWorker(emu, "Admin")
    async with running_channel(runtime, emu, admin_reload=reload, admin_ids=[admin.id]):
        await admin.say("/reload")
        assert reloads == [1] and "FAQ reloaded" in admin.last_text()
        worker = TelegramWorker(emu, "Worker")
        await worker.say("/reload")
        assert reloads == [1], "a worker cannot reload the content"


async def test_pictures_outside_a_report_are_not_downloaded(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu):
        mei = TelegramWorker(emu, "Mei")
        await mei.say("/start")
        await mei.send_photo(loaded_jpeg())
        assert "picture was not kept" in mei.last_text() or "picture was not kept" in mei.all_text()
    assert emu.calls("getFile") == [], "nothing is fetched, so nothing can pile up"
    evidence = runtime.services.evidence
    assert evidence is not None
    async with runtime.database.transaction(write=False) as session:
        assert await evidence.purge_expired_drafts(session, 10**9) == 0


async def test_command_menu_is_published_in_both_languages(runtime: Core, emu: TelegramEmulator) -> None:
    async with running_channel(runtime, emu) as channel:
        await publish_commands(channel, runtime)
    calls = emu.calls("setMyCommands")
    assert len(calls) == 2
    menus = {
        str(call["params"].get("language_code") or "default"): json.loads(str(call["params"]["commands"]))
        for call in calls
    }
    default = {c["command"]: c["description"] for c in menus["default"]}
    english = {c["command"]: c["description"] for c in menus["en"]}
    assert set(default) == set(english) >= {"start", "report", "status", "hide", "cancel"}
    assert default["report"] == "匿名举报骚扰" and english["report"] == "Report harassment anonymously"


async def test_a_reply_refused_as_a_bad_request_is_not_sent_again(runtime: Core, emu: TelegramEmulator) -> None:
    """A "chat not found" cannot change by retrying: one attempt, and the batch's other replies go out."""
    async with running_channel(runtime, emu) as channel:
        mei = TelegramWorker(emu, "Mei")
        await mei.say("/start")  # her chat with the bot exists
        shown = len(mei.bot_messages())
        stranger = 987_654_321  # a chat the Bot API does not know
        emu.clear_calls()
        update = {
            "update_id": 9_000_001,
            "message": {"message_id": 1, "date": 0, "chat": {"id": stranger, "type": "private"},
                        "from": {"id": stranger, "is_bot": False, "first_name": "X"}, "text": "/start"},
        }
        mine = {
            "update_id": 9_000_002,
            "message": {"message_id": 2, "date": 0, "chat": {"id": mei.id, "type": "private"},
                        "from": {"id": mei.id, "is_bot": False, "first_name": "Mei"}, "text": "hello"},
        }
        await channel.ingest([update, mine])
        await channel.process_pending()
        await wait_until(lambda: len(mei.bot_messages()) > shown, 10)  # the other worker's reply went out
        to_stranger = [c for c in emu.calls("sendMessage") if str(c["params"].get("chat_id")) == str(stranger)]
        assert len(to_stranger) == 1, "tried once, not three times"
