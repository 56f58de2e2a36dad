"""The Telegram Bot API emulator, exercised by the real python-telegram-bot 22 stack over HTTP.

Each test states a Bot API behaviour that bot code depends on and checks that a
real `telegram.Bot` (or `Application`) sees it exactly as it would see Telegram.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.telegram_emulator import EmulatorClock, EmulatorProcess, TelegramEmulator
from tests.telegram_emulator.api import METHOD_NAMES
from tests.telegram_emulator.helpers import WebhookReceiver, png_bytes, wait_until

KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Report", callback_data="report:start")],
        [InlineKeyboardButton("Help", callback_data="help")],
    ]
)


@pytest.fixture
def emu() -> Iterator[TelegramEmulator]:
    with TelegramEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[telegram.Bot]:
    async with emu.make_bot() as real_bot:
        yield real_bot


@pytest.fixture
def worker(emu: TelegramEmulator) -> dict[str, Any]:
    """A person who has opened the bot (so the bot may write to them)."""
    user = emu.create_user("Mei", username="mei_w")
    emu.send_text(user["id"], "/start")
    return user


async def test_get_me_answers_a_bot_user(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    me = await bot.get_me()
    assert me.is_bot is True
    assert me.id == int(emu.token.split(":")[0])
    assert me.username == "hap_emulated_bot"
    assert me.api_kwargs == {}


async def test_bad_token_and_unknown_method_answer_like_telegram(emu: TelegramEmulator) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        wrong = await http.post(f"{emu.url}/bot123:wrong/getMe")
        unknown = await http.post(f"{emu.url}/bot{emu.token}/sendTelepathy")
        malformed = await http.get(f"{emu.url}/botnonsense/getMe")
        as_query = await http.get(f"{emu.url}/bot{emu.token}/GETME?x=1")
    assert (wrong.status_code, wrong.json()) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert (unknown.status_code, unknown.json()) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    assert malformed.status_code == 404
    assert as_query.json()["result"]["is_bot"] is True
    with pytest.raises(InvalidToken):
        async with telegram.Bot("123:wrong", base_url=emu.base_url) as stranger:
            await stranger.get_me()


async def test_parameters_arrive_as_json_form_or_query(emu: TelegramEmulator, worker: dict[str, Any]) -> None:
    url = f"{emu.url}/bot{emu.token}/sendMessage"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with httpx.AsyncClient(trust_env=False) as http:
        by_json = await http.post(url, json={"chat_id": worker["id"], "text": "json", "reply_markup": markup})
        by_form = await http.post(
            url, data={"chat_id": str(worker["id"]), "text": "form", "reply_markup": json.dumps(markup)}
        )
        by_query = await http.get(url, params={"chat_id": worker["id"], "text": "query"})
    for response, text in ((by_json, "json"), (by_form, "form"), (by_query, "query")):
        message = telegram.Message.de_json(response.json()["result"], None)
        assert message.text == text
    assert by_json.json()["result"]["reply_markup"] == markup == by_form.json()["result"]["reply_markup"]


async def test_button_tap_arrives_as_callback_query(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]
) -> None:
    start = (await bot.get_updates())[-1]
    assert start.message.text == "/start" and start.message.entities[0].type == "bot_command"
    sent = await bot.send_message(worker["id"], "What would you like to do?", reply_markup=KEYBOARD)
    assert sent.reply_markup == KEYBOARD
    emu.tap_button(worker["id"], worker["id"], sent.message_id, data="report:start")
    emu.tap_button(worker["id"], worker["id"], sent.message_id, text="Help")

    update, second = await bot.get_updates(offset=start.update_id + 1)
    query = update.callback_query
    assert query.data == "report:start" and second.callback_query.data == "help"
    assert isinstance(query.chat_instance, str) and int(query.chat_instance) != 0
    assert second.callback_query.chat_instance == query.chat_instance
    assert query.from_user.id == worker["id"]
    assert query.message.message_id == sent.message_id and query.message.reply_markup == KEYBOARD
    assert await query.answer("Started") is True
    assert emu.callback_answers()[0]["answer"]["text"] == "Started"
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer()


async def test_offset_confirms_and_drops_earlier_updates(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    user = emu.create_user()
    for text in ("/start", "one", "two"):
        emu.send_text(user["id"], text)
    first = await bot.get_updates()
    again = await bot.get_updates()
    assert [u.update_id for u in first] == [u.update_id for u in again] and len(first) == 3
    rest = await bot.get_updates(offset=first[1].update_id)
    assert [u.message.text for u in rest] == ["one", "two"]
    assert [u.message.text for u in await bot.get_updates()] == ["one", "two"]
    assert [u.message.text for u in await bot.get_updates(limit=1)] == ["one"]
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["two"]
    assert await bot.get_updates(offset=first[-1].update_id + 1) == ()
    assert emu.pending_updates() == []


async def test_long_poll_waits_for_timeout_or_returns_early(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    user = emu.create_user()
    began = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - began < 2.0

    asyncio.get_running_loop().call_later(0.3, emu.send_text, user["id"], "hello")
    began = time.monotonic()
    (update,) = await bot.get_updates(timeout=5)
    assert update.message.text == "hello"
    assert time.monotonic() - began < 1.5


async def test_newer_poll_ends_older_one_with_conflict(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.2)
    async with emu.make_bot() as second_instance:
        assert await second_instance.get_updates() == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await older


async def test_webhook_posts_updates_with_secret_and_retries(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    with WebhookReceiver(statuses=[500]) as receiver:
        user = emu.create_user()
        assert await bot.set_webhook(receiver.url, secret_token="s3cret-Token_1") is True
        emu.send_text(user["id"], "/start")
        await wait_until(lambda: len(receiver.received) == 2)
        (headers, first), (_, second) = receiver.received
        assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret-Token_1"
        assert first == second and Update.de_json(first, bot).message.text == "/start"
        await wait_until(lambda: emu.pending_updates() == [])
        info = await bot.get_webhook_info()
        assert info.url == receiver.url and info.pending_update_count == 0
        assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        assert await bot.delete_webhook() is True
        assert await bot.get_updates() == ()


async def test_redelivered_update_keeps_its_update_id(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]
) -> None:
    (original,) = await bot.get_updates()
    emu.redeliver(original.update_id)
    assert [u.update_id for u in await bot.get_updates()] == [original.update_id] * 2


async def test_delete_message_once_then_not_found_and_48_hour_rule(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]
) -> None:
    sent = await bot.send_message(worker["id"], "You have a new message")
    assert await bot.delete_message(worker["id"], sent.message_id) is True
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(worker["id"], sent.message_id)
    old = await bot.send_message(worker["id"], "old")
    emu.advance_clock(48 * 3600 + 1)
    with pytest.raises(BadRequest, match="can't be deleted for everyone"):
        await bot.delete_message(worker["id"], old.message_id)
    assert [m["text"] for m in emu.visible_messages(worker["id"])] == ["/start", "old"]


async def test_edits_follow_telegram_rules(bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]) -> None:
    sent = await bot.send_message(worker["id"], "Choose", reply_markup=KEYBOARD)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Choose", worker["id"], sent.message_id, reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("Chosen", worker["id"], sent.message_id)
    assert edited.text == "Chosen" and edited.reply_markup is None and edited.edit_date is not None
    rekeyed = await bot.edit_message_reply_markup(worker["id"], sent.message_id, reply_markup=KEYBOARD)
    assert rekeyed.reply_markup == KEYBOARD and rekeyed.text == "Chosen"
    assert emu.visible_messages(worker["id"])[-1]["reply_markup"] == KEYBOARD.to_dict()
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: character '\.' is reserved"):
        await bot.send_message(worker["id"], "Done.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", worker["id"], 1)


async def test_parse_mode_becomes_plain_text_with_utf16_entities(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]
) -> None:
    html = "<b>New</b> message 😀 <i>for you</i> &lt;3"
    sent = await bot.send_message(worker["id"], f"  {html}\n", parse_mode="HTML")
    assert sent.text == "New message 😀 for you <3"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 3), ("italic", 15, 7)]
    assert sent.text_html == html
    markdown = await bot.send_message(worker["id"], r"*Case* \#12 _saved_\.", parse_mode="MarkdownV2")
    assert markdown.text == "Case #12 saved." and markdown.text_markdown_v2 == r"*Case* \#12 _saved_\."


async def test_inline_message_edits_answer_true(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    user = emu.create_user()
    inline_id = emu.add_inline_message("Poll: safe?", KEYBOARD.to_dict())["inline_message_id"]
    emu.tap_button(user["id"], inline_message_id=inline_id, text="Help")
    (update,) = await bot.get_updates()
    assert update.callback_query.inline_message_id == inline_id and update.callback_query.message is None
    assert update.callback_query.data == "help" and update.callback_query.chat_instance
    assert await bot.edit_message_text("Thanks", inline_message_id=inline_id) is True
    assert emu.inline_message(inline_id) == {"text": "Thanks"}


async def test_injected_flood_wait_raises_retry_after(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    other = emu.create_user()
    emu.send_text(other["id"], "/start")
    emu.inject_retry_after(7, method="sendMessage", chat_id=worker["id"], times=1)
    assert (await bot.send_message(other["id"], "other chat is not limited")).text
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(worker["id"], "too fast")
    assert raised.value.retry_after == dtm.timedelta(seconds=7)
    assert (await bot.send_message(worker["id"], "after waiting")).text == "after waiting"


async def test_opt_in_flood_limits_follow_the_emulator_clock(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    emu.enforce_flood_limits()
    await bot.send_message(worker["id"], "first")
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(worker["id"], "second, too soon")
    assert raised.value.retry_after == dtm.timedelta(seconds=1)
    emu.advance_clock(1.0)
    assert (await bot.send_message(worker["id"], "second")).text == "second"
    emu.enforce_flood_limits(enabled=False)
    assert (await bot.send_message(worker["id"], "third")).text == "third"


async def test_blocked_user_raises_forbidden(bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]) -> None:
    stranger = emu.create_user()
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(stranger["id"], "hi")
    emu.block_bot(worker["id"])
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(worker["id"], "hi")
    status = (await bot.get_updates())[-1].my_chat_member
    assert status.new_chat_member.status == "kicked" and status.from_user.id == worker["id"]
    emu.inject_error(400, "Bad Request: chat not found", chat_id=stranger["id"], times=None)
    for _ in range(2):
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_chat_action(stranger["id"], "typing")


async def test_migrated_group_raises_chat_migrated(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    member = emu.create_user()
    group = emu.create_group("Line 3", member_ids=[member["id"]])
    emu.send_text(member["id"], "/help@hap_emulated_bot", chat_id=group["id"])
    supergroup = emu.migrate_group(group["id"])
    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(group["id"], "hello")
    assert raised.value.new_chat_id == supergroup["id"] and supergroup["type"] == "supergroup"
    assert (await bot.send_message(supergroup["id"], "hello")).chat.id == supergroup["id"]
    command, moved, arrived = (u.message for u in await bot.get_updates())
    assert command.entities[0].length == len("/help@hap_emulated_bot")
    assert moved.migrate_to_chat_id == supergroup["id"] and arrived.migrate_from_chat_id == group["id"]


async def test_photo_and_document_round_trip_through_get_file(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]
) -> None:
    image = png_bytes()
    sent = await bot.send_photo(worker["id"], image, caption="evidence")
    assert [(p.width, p.height) for p in sent.photo] == [(90, 54), (320, 192), (800, 480), (1000, 600)]
    largest = sent.photo[-1]
    assert bytes(await (await bot.get_file(largest.file_id)).download_as_bytearray()) == image
    resent = await bot.send_photo(worker["id"], largest.file_id)
    assert resent.photo[-1].file_unique_id == largest.file_unique_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(worker["id"], "AgNoSuchFile")

    emu.send_photo(worker["id"], png_bytes(64, 48), caption="from the worker")
    emu.send_document(worker["id"], b"%PDF-1.4 payslip", "payslip.pdf")
    *_, photo_update, document_update = await bot.get_updates()
    small = photo_update.message.photo[-1]
    assert (small.width, small.height) == (64, 48) and photo_update.message.caption == "from the worker"
    downloaded = await (await document_update.message.document.get_file()).download_as_bytearray()
    assert bytes(downloaded) == b"%PDF-1.4 payslip"
    assert document_update.message.document.mime_type == "application/pdf"


async def test_call_log_records_methods_and_params(
    bot: telegram.Bot, emu: TelegramEmulator, worker: dict[str, Any]
) -> None:
    emu.clear_calls()
    await bot.send_message(worker["id"], "logged", reply_markup=KEYBOARD)
    with pytest.raises(BadRequest):
        await bot.delete_message(worker["id"], 999)
    send, delete = emu.calls()
    assert send["method"] == "sendMessage" and send["ok"] is True
    assert send["params"]["chat_id"] == str(worker["id"]) and send["params"]["text"] == "logged"
    assert json.loads(send["params"]["reply_markup"]) == KEYBOARD.to_dict()
    assert (delete["method"], delete["error_code"]) == ("deleteMessage", 400)
    assert abs(send["time"] - time.time()) < 5
    assert emu.calls("getMe") == []


async def test_injected_clock_dates_messages_in_unix_seconds() -> None:
    with TelegramEmulator(clock=EmulatorClock(start=1_700_000_000)) as emulator:
        user = emulator.create_user()
        update = emulator.send_text(user["id"], "/start")
        assert 1_700_000_000 <= update["message"]["date"] <= 1_700_000_005
        async with emulator.make_bot() as real_bot:
            sent = await real_bot.send_message(user["id"], "dated")
        assert abs(sent.date - dtm.datetime(2023, 11, 14, 22, 13, 20, tzinfo=dtm.UTC)) < dtm.timedelta(seconds=5)
        assert emulator.advance_clock(3600) >= 1_700_003_600


async def test_commands_round_trip(bot: telegram.Bot) -> None:
    assert await bot.set_my_commands([("start", "Begin"), ("report", "Report a problem")]) is True
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("start", "Begin"),
        ("report", "Report a problem"),
    ]
    assert await bot.get_my_commands(language_code="zh") == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start!", "bad")])


def _replies_parse(bot: telegram.Bot, emu: TelegramEmulator) -> set[str]:
    """Call every emulated method over raw HTTP and parse its result with the PTB class for it."""
    user = emu.create_user()
    emu.send_text(user["id"], "/start x")
    photo_update = emu.send_photo(user["id"], png_bytes(40, 30))
    group = emu.create_group("g", [user["id"]])
    emu.migrate_group(group["id"])
    chat = {"chat_id": user["id"]}
    markup = {"reply_markup": KEYBOARD.to_dict()}
    done: set[str] = set()
    with httpx.Client(trust_env=False) as http:

        def call(method: str, **params: Any) -> Any:
            body = http.post(f"{emu.url}/bot{emu.token}/{method}", json=params).json()
            assert body["ok"] is True, body
            done.add(method)
            return body["result"]

        message = telegram.Message.de_json(call("sendMessage", text="t", **chat, **markup), bot)
        emu.tap_button(user["id"], user["id"], message.message_id, data="help")
        emu.block_bot(user["id"])
        updates = [Update.de_json(u, bot) for u in call("getUpdates")]
        assert {u.effective_message is not None or u.my_chat_member is not None for u in updates} == {True}
        emu.send_text(user["id"], "back")
        query_id = next(u.callback_query.id for u in updates if u.callback_query)
        assert call("answerCallbackQuery", callback_query_id=query_id) is True
        ids = {"message_id": message.message_id, **chat}
        for method, extra in (("editMessageText", {"text": "t2"}), ("editMessageReplyMarkup", markup)):
            assert telegram.Message.de_json(call(method, **ids, **extra), bot).message_id == message.message_id
        photo = telegram.Message.de_json(
            call("sendPhoto", photo=photo_update["message"]["photo"][-1]["file_id"], caption="c", **chat), bot
        )
        assert (
            telegram.Message.de_json(
                call("editMessageCaption", message_id=photo.message_id, caption="d", **chat), bot
            ).caption
            == "d"
        )
        document = telegram.Message.de_json(
            call(
                "sendDocument",
                document=emu.send_document(user["id"], b"doc", "a.txt")["message"]["document"]["file_id"],
                **chat,
            ),
            bot,
        )
        assert telegram.File.de_json(call("getFile", file_id=document.document.file_id), bot).file_size == 3
        assert telegram.User.de_json(call("getMe"), bot).api_kwargs == {}
        assert telegram.ChatFullInfo.de_json(call("getChat", **chat), bot).id == user["id"]
        assert call("sendChatAction", action="typing", **chat) is True
        assert call("setMyCommands", commands=[{"command": "a", "description": "b"}]) is True
        assert telegram.BotCommand.de_list(call("getMyCommands"), bot)[0].command == "a"
        assert call("deleteMyCommands") is True
        assert call("setWebhook", url=f"{emu.url}/nowhere") is True
        assert telegram.WebhookInfo.de_json(call("getWebhookInfo"), bot).url == f"{emu.url}/nowhere"
        assert call("deleteWebhook", drop_pending_updates=True) is True
        assert call("deleteMessage", **ids) is True
        assert call("deleteMessages", message_ids=[photo.message_id, 12345], **chat) is True
    return done


async def test_every_method_reply_parses_with_ptb(bot: telegram.Bot, emu: TelegramEmulator) -> None:
    done = await asyncio.to_thread(_replies_parse, bot, emu)
    assert done == set(METHOD_NAMES.values())


async def test_ptb_application_polls_and_echoes(emu: TelegramEmulator) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(update.effective_message.text)

    app = ApplicationBuilder().token(emu.token).base_url(emu.base_url).base_file_url(emu.base_file_url).build()
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    user = emu.create_user()
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=1)
        emu.send_text(user["id"], "hello bot")
        await wait_until(lambda: len(emu.visible_messages(user["id"])) == 2)
        await app.updater.stop()
        await app.stop()
    reply = emu.visible_messages(user["id"])[-1]
    assert reply["text"] == "hello bot" and reply["from"]["is_bot"] is True
    assert "reply_to_message" not in reply
    assert emu.pending_updates() == []


async def test_ptb_application_without_updater_processes_webhook_updates(emu: TelegramEmulator) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await context.bot.send_message(update.effective_chat.id, update.effective_message.text.upper())

    app: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(emu.token).base_url(emu.base_url).updater(None).build()
    )
    app.add_handler(MessageHandler(filters.TEXT, echo))
    with WebhookReceiver() as receiver:
        async with app:
            await app.bot.set_webhook(receiver.url)
            user = emu.create_user()
            emu.send_text(user["id"], "quiet please")
            await wait_until(lambda: len(receiver.received) == 1)
            await app.process_update(Update.de_json(receiver.received[0][1], app.bot))
        assert emu.visible_messages(user["id"])[-1]["text"] == "QUIET PLEASE"


@pytest.mark.slow
async def test_subprocess_emulator_keeps_unconfirmed_updates_for_a_restarted_bot() -> None:
    with EmulatorProcess() as process:
        remote = process.emulator
        user = remote.create_user()
        remote.send_text(user["id"], "/start")
        async with remote.make_bot() as first_run:
            (seen,) = await first_run.get_updates()
        async with remote.make_bot() as second_run:
            (again,) = await second_run.get_updates()
            assert again.update_id == seen.update_id
            assert await second_run.get_updates(offset=again.update_id + 1) == ()
        assert [c["method"] for c in remote.calls()].count("getUpdates") == 3
        with pytest.raises(RuntimeError, match="not visible"):
            remote.tap_button(user["id"], user["id"], 999, data="x")


def test_close_releases_thread_and_port() -> None:
    emulator = TelegramEmulator()
    port = int(emulator.url.rsplit(":", 1)[1])
    emulator.close()
    assert not [t for t in threading.enumerate() if t.name == f"telegram-emulator-{port}"]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
