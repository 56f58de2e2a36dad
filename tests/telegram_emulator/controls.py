"""Test-side controls: people who write to the bot, tap its buttons, block it; faults; the clock.

Every control takes and returns JSON-ready values so the same methods serve the
in-process facade and the `/_emu/<name>` HTTP endpoints of a subprocess
emulator. They run on the emulator loop, like the Bot API methods, so the world
the bot sees and the world the test changes are one and the same.
"""

from __future__ import annotations

import base64
from typing import Any

from .files import store_document, store_photo
from .flood import FloodLimits
from .formatting import command_entities
from .state import CallbackQueryRecord, Chat, EmulatorClock, EmulatorState, FaultRule, StoredMessage, User

JSON = dict[str, Any]


class EmulatorControls:
    """What a test can do to the emulated Telegram; public methods are the control API."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def bot_info(self) -> JSON:
        """The emulated bot's token and User object."""
        return {"token": self._state.token, "bot": self._state.bot.to_api()}

    def create_user(
        self,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> JSON:
        """A new person; their private chat with the bot appears when they first write."""
        user = User(self._state.new_user_id(), first_name, False, last_name, username, language_code)
        self._state.users[user.id] = user
        return user.to_api()

    def create_started_users(
        self, count: int, first_name: str = "Worker", language_code: str | None = "zh"
    ) -> list[int]:
        """``count`` new people who have each started the bot (their private chats exist), without
        queueing their messages: the set-up of a broadcast to many, in one call."""
        ids = []
        for _ in range(int(count)):
            user = User(self._state.new_user_id(), first_name, False, None, None, language_code)
            self._state.users[user.id] = user
            self._state.private_chat(user).bot_started = True
            ids.append(user.id)
        return ids

    def create_group(
        self,
        title: str,
        member_ids: list[int] | None = None,
        supergroup: bool = False,
        username: str | None = None,
        bot_is_admin: bool = False,
    ) -> JSON:
        """A group or supergroup whose members include the bot and the given users."""
        state = self._state
        chat_id = state.new_group_id(supergroup)
        members = {state.bot.id, *(state.user(uid).id for uid in member_ids or [])}
        chat = Chat(
            chat_id,
            "supergroup" if supergroup else "group",
            state.chat_instance_for(chat_id),
            title=title,
            username=username,
            member_ids=members,
            bot_is_admin=bot_is_admin,
        )
        state.chats[chat_id] = chat
        return chat.to_api()

    def add_member(self, chat_id: int, user_id: int) -> JSON:
        """Put a user in a group so they can write there."""
        chat = self._state.chat(chat_id)
        chat.member_ids.add(self._state.user(user_id).id)
        return chat.to_api()

    def set_bot_admin(self, chat_id: int, admin: bool = True) -> JSON:
        """Grant or revoke the bot's admin rights (which let it delete others' group messages)."""
        chat = self._state.chat(chat_id)
        chat.bot_is_admin = admin
        return chat.to_api()

    def _chat_for(self, user: User, chat_id: int | None) -> Chat:
        state = self._state
        if chat_id is None or int(chat_id) == user.id:
            chat = state.private_chat(user)
            chat.bot_started = True
            chat.bot_blocked = False
            return chat
        chat = state.chat(chat_id)
        if chat.migrated_to is not None:
            raise ValueError(f"chat {chat_id} was migrated to {chat.migrated_to}")
        if user.id not in chat.member_ids:
            raise ValueError(f"user {user.id} is not a member of chat {chat.id}")
        return chat

    def _user_message(self, user_id: int, chat_id: int | None, content: JSON) -> JSON:
        user = self._state.user(user_id)
        stored = self._state.store_message(self._chat_for(user, chat_id), user, content)
        return self._state.enqueue("message", dict(stored.data))

    def send_text(self, user_id: int, text: str, chat_id: int | None = None) -> JSON:
        """The user writes `text` (commands such as "/start PAYLOAD" get bot_command entities)."""
        content: JSON = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, chat_id, content)

    def send_photo(
        self, user_id: int, data_base64: str, chat_id: int | None = None, caption: str | None = None
    ) -> JSON:
        """The user sends a photo; the emulator stores it and builds its PhotoSize list."""
        content: JSON = {"photo": store_photo(self._state, base64.b64decode(data_base64))}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, chat_id, content)

    def send_document(
        self,
        user_id: int,
        data_base64: str,
        file_name: str,
        mime_type: str | None = None,
        chat_id: int | None = None,
        caption: str | None = None,
    ) -> JSON:
        """The user sends a file as a document."""
        content: JSON = {"document": store_document(self._state, base64.b64decode(data_base64), file_name, mime_type)}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, chat_id, content)

    def add_inline_message(self, text: str, reply_markup: JSON | None = None) -> JSON:
        """A message sent "via" the bot in inline mode; edits to it answer True, not a Message."""
        state = self._state
        inline_id = f"BAAAA{state.serial():010d}emulated"
        data: JSON = {"text": text}
        if reply_markup:
            data["reply_markup"] = reply_markup
        state.inline_messages[inline_id] = StoredMessage(0, 0, state.bot.id, state.now(), data)
        return {"inline_message_id": inline_id}

    def inline_message(self, inline_message_id: str) -> JSON:
        """The current text and keyboard of an inline message."""
        return dict(self._state.inline_messages[inline_message_id].data)

    def tap_button(
        self,
        user_id: int,
        chat_id: int | None = None,
        message_id: int | None = None,
        data: str | None = None,
        text: str | None = None,
        inline_message_id: str | None = None,
    ) -> JSON:
        """The user taps an inline button (chosen by callback_data or by label) on a bot message."""
        state = self._state
        user = state.user(user_id)
        if inline_message_id is not None:
            stored = state.inline_messages[inline_message_id]
            chat_instance = state.chat_instance_for(user.id)
        else:
            chat = state.chat(int(chat_id or 0))
            found = chat.messages.get(int(message_id or 0))
            if found is None:
                raise ValueError(f"message {message_id} is not visible in chat {chat_id}")
            stored, chat_instance = found, chat.chat_instance
        keyboard = stored.data.get("reply_markup", {}).get("inline_keyboard", [])
        button = next(
            (
                b
                for row in keyboard
                for b in row
                if "callback_data" in b and (b["callback_data"] == data or (text is not None and b["text"] == text))
            ),
            None,
        )
        if button is None:
            raise ValueError(f"no callback button matching data={data!r} text={text!r} on that message")
        query_id = str(4_382_000_000_000_000_000 + state.serial())
        state.callback_queries[query_id] = CallbackQueryRecord(
            query_id, user.id, stored.chat_id, stored.message_id, button["callback_data"], state.now()
        )
        query: JSON = {"id": query_id, "from": user.to_api(), "chat_instance": chat_instance}
        if inline_message_id is not None:
            query["inline_message_id"] = inline_message_id
        else:
            query["message"] = dict(stored.data)
        query["data"] = button["callback_data"]
        return state.enqueue("callback_query", query)

    def block_bot(self, user_id: int) -> JSON:
        """The user blocks the bot: sends then fail with 403, and a my_chat_member update arrives."""
        state = self._state
        user = state.user(user_id)
        chat = state.private_chat(user)
        chat.bot_blocked = True
        return state.enqueue(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": user.to_api(),
                "date": state.now(),
                "old_chat_member": {"user": state.bot.to_api(), "status": "member"},
                "new_chat_member": {"user": state.bot.to_api(), "status": "kicked", "until_date": 0},
            },
        )

    def migrate_group(self, chat_id: int) -> JSON:
        """Upgrade a group to a supergroup with a new id; the old id then answers with migrate_to_chat_id."""
        state = self._state
        old = state.chat(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise ValueError(f"chat {chat_id} is not a group that can be upgraded")
        new = Chat(
            state.new_group_id(True),
            "supergroup",
            state.chat_instance_for(0),
            title=old.title,
            member_ids=set(old.member_ids),
            bot_is_admin=old.bot_is_admin,
        )
        new.chat_instance = state.chat_instance_for(new.id)
        state.chats[new.id] = new
        actor = next((state.users[uid] for uid in old.member_ids if uid != state.bot.id), state.bot)
        moved = state.store_message(old, actor, {"migrate_to_chat_id": new.id})
        state.enqueue("message", dict(moved.data))
        old.migrated_to = new.id
        arrived = state.store_message(new, actor, {"migrate_from_chat_id": old.id})
        state.enqueue("message", dict(arrived.data))
        return new.to_api()

    def redeliver(self, update_id: int) -> JSON:
        """Queue an update again with the same update_id, as Telegram does after an unconfirmed delivery."""
        return self._state.requeue(int(update_id))

    def inject_error(
        self,
        error_code: int,
        description: str,
        parameters: JSON | None = None,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> JSON:
        """The next `times` matching calls (None: all of them) fail with this Bot API error."""
        rule = FaultRule(int(error_code), description, parameters, method, chat_id, times)
        self._state.faults.append(rule)
        return dict(rule.__dict__)

    def inject_retry_after(
        self, retry_after: int, method: str | None = None, chat_id: int | None = None, times: int | None = 1
    ) -> JSON:
        """Flood control: 429 "Too Many Requests: retry after N" with parameters.retry_after."""
        return self.inject_error(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": int(retry_after)},
            method,
            chat_id,
            times,
        )

    def enforce_flood_limits(
        self,
        enabled: bool = True,
        per_chat: tuple[int, float] = (1, 1.0),
        per_group: tuple[int, float] = (20, 60.0),
        overall: tuple[int, float] = (30, 1.0),
    ) -> bool:
        """Answer sends beyond Telegram's limits (count, seconds) with 429, or stop doing so."""
        limits = FloodLimits(_window(per_chat), _window(per_group), _window(overall))
        self._state.flood_limits = limits if enabled else None
        return enabled

    def clear_faults(self) -> int:
        count = len(self._state.faults)
        self._state.faults.clear()
        return count

    def calls(self, method: str | None = None) -> list[JSON]:
        """Every Bot API call so far (method, params, emulator time, outcome), oldest first."""
        wanted = method.lower() if method else None
        return [c.to_api() for c in self._state.calls if wanted is None or c.method.lower() == wanted]

    def clear_calls(self) -> int:
        count = len(self._state.calls)
        self._state.calls.clear()
        return count

    def visible_messages(self, chat_id: int) -> list[JSON]:
        """The messages the chat shows now, after edits and deletions, oldest first."""
        chat = self._state.chat(chat_id)
        return [dict(chat.messages[mid].data) for mid in sorted(chat.messages)]

    def callback_answers(self) -> list[JSON]:
        """Every button tap with the bot's answerCallbackQuery (None while unanswered)."""
        return [dict(r.__dict__) for r in self._state.callback_queries.values()]

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by getUpdates or accepted by the webhook."""
        return [dict(u) for u in self._state.pending_updates]

    def webhook_deliveries(self) -> list[JSON]:
        """Each POST to the webhook: update_id, url, ok, error text."""
        return [dict(d) for d in self._state.deliveries]

    def now(self) -> float:
        return self._state.clock.now()

    def advance_clock(self, seconds: float) -> float:
        """Move emulator time forward (message dates, the 48-hour delete rule)."""
        return self._clock().advance(float(seconds))

    def set_clock(self, unix_seconds: float) -> float:
        return self._clock().set(float(unix_seconds))

    def _clock(self) -> EmulatorClock:
        clock = self._state.clock
        if not isinstance(clock, EmulatorClock):
            raise TypeError("the injected clock is not an EmulatorClock: move it directly")
        return clock


def _window(pair: tuple[int, float] | list[float]) -> tuple[int, float]:
    """(count, seconds), also when it arrived over HTTP as a JSON list."""
    return int(pair[0]), float(pair[1])


CONTROL_NAMES = frozenset(name for name in dir(EmulatorControls) if not name.startswith("_"))
