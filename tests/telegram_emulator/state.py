"""The emulated Telegram world: one bot, its users, chats, messages, files and update queue.

Everything here runs on the emulator's event-loop thread only (the in-process
facade marshals test calls onto that loop), so no locks are needed. Objects keep
their Bot API shape (`to_api`) because that is what every answer is made of.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .flood import FloodLimits

JSON = dict[str, Any]

DEFAULT_TOKEN = "7000000001:AAHemulator-test-token-not-a-secret00"
DELETE_WINDOW_SECONDS = 48 * 3600
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class Clock(Protocol):
    """Anything that tells the emulator's time in Unix seconds."""

    def now(self) -> float: ...


class EmulatorClock:
    """Wall-clock time plus an offset that tests move forward (the 48-hour delete rule, dates)."""

    def __init__(self, start: float | None = None) -> None:
        self._offset = 0.0 if start is None else start - time.time()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        self._offset += seconds
        return self.now()

    def set(self, unix_seconds: float) -> float:
        self._offset = unix_seconds - time.time()
        return self.now()


@dataclass
class User:
    """A Telegram account (a person, or the bot itself)."""

    id: int
    first_name: str
    is_bot: bool = False
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass
class StoredMessage:
    """A message as the chat shows it now; `data` is its Bot API form, kept current on edit."""

    chat_id: int
    message_id: int
    sender_id: int
    date: int
    data: JSON


@dataclass
class Chat:
    """A private chat with the bot, a group or a supergroup, with the messages it still shows."""

    id: int
    type: str
    chat_instance: str
    title: str | None = None
    user: User | None = None
    username: str | None = None
    member_ids: set[int] = field(default_factory=set)
    bot_started: bool = False
    bot_blocked: bool = False
    bot_is_admin: bool = False
    migrated_to: int | None = None
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1

    def to_api(self) -> JSON:
        data: JSON = {"id": self.id, "type": self.type}
        if self.type == "private" and self.user is not None:
            data["first_name"] = self.user.first_name
            if self.user.last_name is not None:
                data["last_name"] = self.user.last_name
            if self.user.username is not None:
                data["username"] = self.user.username
        else:
            data["title"] = self.title
            if self.username is not None:
                data["username"] = self.username
        return data

    def allocate_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class StoredFile:
    """Bytes held by the emulated file servers; `kind` is what the file may be sent as."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None

    def to_api(self) -> JSON:
        """The `File` object getFile answers with (a relative file_path, as Telegram gives)."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class CallRecord:
    """One Bot API call as the emulator received and answered it."""

    method: str
    params: JSON
    time: float
    wall_time: float
    ok: bool
    error_code: int | None = None
    description: str | None = None

    def to_api(self) -> JSON:
        return dict(self.__dict__)


@dataclass
class FaultRule:
    """An error the next matching calls get instead of their normal answer."""

    error_code: int
    description: str
    parameters: JSON | None = None
    method: str | None = None
    chat_id: int | None = None
    remaining: int | None = 1

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        if self.method is not None and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)


@dataclass
class Webhook:
    """The bot's webhook registration and the delivery status getWebhookInfo reports."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class CallbackQueryRecord:
    """A button tap waiting for (or given) an answerCallbackQuery."""

    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    date: int
    answer: JSON | None = None


class EmulatorState:
    """All mutable emulator data, plus small helpers shared by Bot API methods and test controls."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        clock: Clock | None = None,
        bot_username: str = "hap_emulated_bot",
        bot_name: str = "HAP Emulated Bot",
    ) -> None:
        self.token = token
        self.clock: Clock = clock or EmulatorClock()
        self.bot = User(int(token.split(":", 1)[0]), bot_name, is_bot=True, username=bot_username)
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.photo_sets: dict[str, list[JSON]] = {}
        self.inline_messages: dict[str, StoredMessage] = {}
        self.pending_updates: list[JSON] = []
        self.update_history: dict[int, JSON] = {}
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self.webhook: Webhook | None = None
        self.faults: list[FaultRule] = []
        self.flood_limits: FloodLimits | None = None
        self.calls: list[CallRecord] = []
        self.deliveries: list[JSON] = []
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.commands: dict[str, list[JSON]] = {}
        self.poll_generation = 0
        self.closing = False
        self.update_listeners: list[Callable[[], None]] = []
        self._update_ids = itertools.count(100_000_001)
        self._user_ids = itertools.count(5_000_000_001)
        self._group_ids = itertools.count(4_000_000_001)
        self._supergroup_ids = itertools.count(1_002_000_000_001)
        self._serial = itertools.count(1)

    def now(self) -> int:
        """Emulator time in whole Unix seconds, the unit of every Bot API date."""
        return int(self.clock.now())

    def serial(self) -> int:
        """A fresh small number for ids that only need to be unique."""
        return next(self._serial)

    def new_user_id(self) -> int:
        return next(self._user_ids)

    def new_group_id(self, supergroup: bool) -> int:
        return -next(self._supergroup_ids if supergroup else self._group_ids)

    def notify(self) -> None:
        """Wake long-polls and the webhook sender: the queue or the webhook changed."""
        for listener in list(self.update_listeners):
            listener()

    def enqueue(self, kind: str, payload: JSON) -> JSON:
        """Create an update of type `kind` and queue it, unless the bot's allowed_updates exclude it."""
        update: JSON = {"update_id": next(self._update_ids), kind: payload}
        self.update_history[update["update_id"]] = update
        if kind in self.allowed_updates:
            self.pending_updates.append(update)
            self.notify()
        return update

    def requeue(self, update_id: int) -> JSON:
        """Queue an already-created update again, with the same update_id."""
        update = self.update_history.get(update_id)
        if update is None:
            raise KeyError(f"no update with update_id {update_id}")
        self.pending_updates.append(update)
        self.notify()
        return update

    def confirm_below(self, offset: int) -> None:
        """Drop every queued update whose id is below `offset` (what a getUpdates offset means)."""
        self.pending_updates = [u for u in self.pending_updates if u["update_id"] >= offset]

    def store_message(self, chat: Chat, sender: User, content: JSON) -> StoredMessage:
        """Append a message to `chat` and return it in its Bot API form."""
        message_id = chat.allocate_message_id()
        date = self.now()
        data: JSON = {"message_id": message_id, "from": sender.to_api(), "chat": chat.to_api(), "date": date}
        data.update(content)
        stored = StoredMessage(chat.id, message_id, sender.id, date, data)
        chat.messages[message_id] = stored
        return stored

    def store_file(self, stored: StoredFile) -> StoredFile:
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def private_chat(self, user: User) -> Chat:
        """The private chat between `user` and the bot; it has the user's id, as in Telegram."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(user.id, "private", self.chat_instance_for(user.id), user=user)
            self.chats[user.id] = chat
        return chat

    def chat_instance_for(self, chat_id: int) -> str:
        """A stable opaque per-chat string, like Telegram's signed 64-bit chat_instance."""
        return str(-((chat_id * 2_654_435_761 + self.bot.id) % 9_000_000_000_000_000_000))

    def user(self, user_id: int) -> User:
        found = self.users.get(int(user_id))
        if found is None:
            raise KeyError(f"no user {user_id}: create it first")
        return found

    def chat(self, chat_id: int) -> Chat:
        found = self.chats.get(int(chat_id))
        if found is None:
            raise KeyError(f"no chat {chat_id}: create it first")
        return found
