"""Bot API methods that act on chats and messages: send, edit, delete, callbacks, files, commands.

Each function answers what the real server answers, including the exact error
text bot code matches on ("message to delete not found", "bot was blocked by
the user", "message is not modified: ...").
"""

from __future__ import annotations

import json
import re
from typing import Any

from .api import bot_method
from .errors import CHAT_NOT_FOUND_TEXT, bad_request, forbidden, required
from .files import (
    MAX_DOWNLOAD_BYTES,
    document_object,
    photo_sizes_for,
    resolve_upload,
    store_document,
    store_photo,
)
from .formatting import parse_text
from .params import Params, Upload
from .state import DELETE_WINDOW_SECONDS, Chat, EmulatorState, StoredMessage

JSON = dict[str, Any]
MAX_CAPTION = 1024
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_BUTTON_ACTIONS = {
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "pay",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
}


def find_chat(state: EmulatorState, params: Params) -> Chat:
    """The chat named by chat_id; a migrated group answers with its new supergroup id."""
    chat_id = params.chat_id()
    chat: Chat | None
    if isinstance(chat_id, str):
        name = chat_id.removeprefix("@").lower()
        chat = next(
            (c for c in state.chats.values() if c.username and c.username.lower() == name and c.type != "private"),
            None,
        )
    elif chat_id in state.users and chat_id != state.bot.id:
        chat = state.private_chat(state.users[chat_id])
    else:
        chat = state.chats.get(chat_id)
    if chat is None:
        raise bad_request(CHAT_NOT_FOUND_TEXT)
    if chat.migrated_to is not None:
        raise bad_request("group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": chat.migrated_to})
    return chat


def writable_chat(state: EmulatorState, params: Params) -> Chat:
    """A chat the bot may post in now, or the 403 Telegram gives for it."""
    chat = find_chat(state, params)
    if chat.type == "private":
        if chat.bot_blocked:
            raise forbidden("bot was blocked by the user")
        if not chat.bot_started:
            raise forbidden("bot can't initiate conversation with a user")
    elif state.bot.id not in chat.member_ids:
        raise forbidden(
            "bot is not a member of the group chat"
            if chat.type == "group"
            else "bot is not a member of the supergroup chat"
        )
    return chat


def inline_markup(params: Params) -> JSON | None:
    """A validated inline keyboard to echo back; other keyboards are accepted but never echoed."""
    markup = params.structured("reply_markup", "can't parse reply keyboard markup JSON object")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
    for row in rows:
        for button in row:
            if (
                not isinstance(button, dict)
                or not str(button.get("text") or "").strip()
                or not (_BUTTON_ACTIONS & set(button))
            ):
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
    return {"inline_keyboard": [[dict(button) for button in row] for row in rows if row]}


def _formatted(params: Params, name: str, limit: int, empty_error: str) -> JSON:
    entity_name = "entities" if name == "text" else "caption_entities"
    entities = params.structured(entity_name, f"can't parse {entity_name} JSON object")
    text, found = parse_text(params.text(name), params.text("parse_mode"), entities, empty_error)
    if len(text) > limit:
        raise bad_request("message caption is too long" if name == "caption" else "message is too long")
    content: JSON = {name: text} if text else {}
    if found:
        content[entity_name] = found
    return content


def _reply_and_markup(chat: Chat, params: Params, content: JSON) -> JSON:
    """Add the quoted message and the inline keyboard, as Telegram echoes them in the sent Message."""
    reply = params.structured("reply_parameters", "can't parse reply parameters JSON object") or {}
    reply_to = reply.get("message_id") if isinstance(reply, dict) else None
    reply_to = reply_to or params.integer("reply_to_message_id")
    if reply_to:
        target = chat.messages.get(int(reply_to))
        if target is None and not (isinstance(reply, dict) and reply.get("allow_sending_without_reply")):
            raise bad_request("message to be replied not found")
        if target is not None:
            content["reply_to_message"] = {k: v for k, v in target.data.items() if k != "reply_to_message"}
    markup = inline_markup(params)
    if markup:
        content["reply_markup"] = markup
    return content


def _send(state: EmulatorState, chat: Chat, params: Params, content: JSON) -> JSON:
    """Post the bot's message: flood limits (if enforced) first, then store and answer with it."""
    if state.flood_limits is not None:
        state.flood_limits.check_and_count(chat.id, chat.type != "private", state.clock.now())
    return state.store_message(chat, state.bot, _reply_and_markup(chat, params, content)).data


@bot_method("getMe")
def get_me(state: EmulatorState, params: Params) -> JSON:
    return {
        **state.bot.to_api(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@bot_method("sendMessage")
def send_message(state: EmulatorState, params: Params) -> JSON:
    chat = writable_chat(state, params)
    return _send(state, chat, params, _formatted(params, "text", 4096, "message text is empty"))


@bot_method("sendChatAction")
def send_chat_action(state: EmulatorState, params: Params) -> bool:
    writable_chat(state, params)
    if params.text("action") not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    return True


@bot_method("getChat")
def get_chat(state: EmulatorState, params: Params) -> JSON:
    chat = find_chat(state, params)
    gifts = dict.fromkeys(
        ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"),
        False,
    )
    return {**chat.to_api(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}


def _own_message(state: EmulatorState, params: Params, missing: str) -> StoredMessage:
    """The bot's message to edit: by chat_id + message_id, or by inline_message_id."""
    if params.has("inline_message_id"):
        inline = state.inline_messages.get(params.text("inline_message_id") or "")
        if inline is None:
            raise bad_request("MESSAGE_ID_INVALID")
        return inline
    chat = writable_chat(state, params)
    message_id = params.integer("message_id", bad_request("message identifier is not specified"))
    stored = chat.messages.get(message_id or 0)
    if stored is None:
        raise bad_request(missing)
    if stored.sender_id != state.bot.id:
        raise bad_request("message can't be edited")
    return stored


def _apply_edit(state: EmulatorState, stored: StoredMessage, changes: JSON, removable: tuple[str, ...]) -> JSON | bool:
    """Apply an edit; Telegram answers with the Message, or True for an inline message."""
    current = {key: stored.data.get(key) for key in removable}
    wanted = {key: changes.get(key) for key in removable}
    if json.dumps(current, sort_keys=True) == json.dumps(wanted, sort_keys=True):
        raise bad_request(NOT_MODIFIED)
    for key in removable:
        if changes.get(key) is None:
            stored.data.pop(key, None)
        else:
            stored.data[key] = changes[key]
    if stored.chat_id == 0:
        return True
    stored.data["edit_date"] = state.now()
    return stored.data


@bot_method("editMessageText")
def edit_message_text(state: EmulatorState, params: Params) -> JSON | bool:
    """Replace text and keyboard; like Telegram, omitting reply_markup removes the keyboard."""
    stored = _own_message(state, params, "message to edit not found")
    if "text" not in stored.data:
        raise bad_request("there is no text in the message to edit")
    changes = _formatted(params, "text", 4096, "message text is empty")
    changes["reply_markup"] = inline_markup(params)
    return _apply_edit(state, stored, changes, ("text", "entities", "reply_markup"))


@bot_method("editMessageCaption")
def edit_message_caption(state: EmulatorState, params: Params) -> JSON | bool:
    stored = _own_message(state, params, "message to edit not found")
    changes = _formatted(params, "caption", MAX_CAPTION, "")
    changes["reply_markup"] = inline_markup(params)
    return _apply_edit(state, stored, changes, ("caption", "caption_entities", "reply_markup"))


@bot_method("editMessageReplyMarkup")
def edit_message_reply_markup(state: EmulatorState, params: Params) -> JSON | bool:
    stored = _own_message(state, params, "message to edit not found")
    return _apply_edit(state, stored, {"reply_markup": inline_markup(params)}, ("reply_markup",))


def _delete_one(state: EmulatorState, chat: Chat, message_id: int) -> None:
    """Telegram's rules: 48 hours for everything; others' group messages need admin rights."""
    stored = chat.messages.get(message_id)
    if stored is None:
        raise bad_request("message to delete not found")
    if state.now() - stored.date >= DELETE_WINDOW_SECONDS:
        raise bad_request("message can't be deleted for everyone")
    if chat.type != "private" and stored.sender_id != state.bot.id and not chat.bot_is_admin:
        raise bad_request("message can't be deleted")
    del chat.messages[message_id]


@bot_method("deleteMessage")
def delete_message(state: EmulatorState, params: Params) -> bool:
    chat = find_chat(state, params)
    if chat.type == "private" and chat.bot_blocked:
        raise forbidden("bot was blocked by the user")
    _delete_one(state, chat, params.integer("message_id", bad_request("message identifier is not specified")) or 0)
    return True


@bot_method("deleteMessages")
def delete_messages(state: EmulatorState, params: Params) -> bool:
    """Deletes what it can and skips the rest, as Telegram does for the batch form."""
    chat = find_chat(state, params)
    ids = params.structured("message_ids", "can't parse message identifiers JSON object") or []
    if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
        raise bad_request("message identifiers are not specified")
    for message_id in ids:
        try:
            _delete_one(state, chat, int(message_id))
        except Exception:
            continue
    return True


@bot_method("answerCallbackQuery")
def answer_callback_query(state: EmulatorState, params: Params) -> bool:
    query_id = params.text("callback_query_id")
    if not query_id:
        raise required("callback_query_id")
    record = state.callback_queries.get(query_id)
    if record is None or record.answer is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.text("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    record.answer = {
        "text": text,
        "show_alert": params.flag("show_alert"),
        "url": params.text("url"),
        "cache_time": params.integer("cache_time") or 0,
        "date": state.now(),
    }
    return True


def _media_message(state: EmulatorState, chat: Chat, params: Params, content: JSON) -> JSON:
    content.update(_formatted(params, "caption", MAX_CAPTION, ""))
    return _send(state, chat, params, content)


@bot_method("sendPhoto")
def send_photo(state: EmulatorState, params: Params) -> JSON:
    chat = writable_chat(state, params)
    source = resolve_upload(state, params.input_file("photo"), "photo")
    sizes = store_photo(state, source.data) if isinstance(source, Upload) else photo_sizes_for(state, source.file_id)
    return _media_message(state, chat, params, {"photo": sizes})


@bot_method("sendDocument")
def send_document(state: EmulatorState, params: Params) -> JSON:
    chat = writable_chat(state, params)
    source = resolve_upload(state, params.input_file("document"), "document")
    if isinstance(source, Upload):
        document = store_document(state, source.data, source.file_name, source.content_type)
    else:
        document = document_object(source)
    return _media_message(state, chat, params, {"document": document})


@bot_method("getFile")
def get_file(state: EmulatorState, params: Params) -> JSON:
    file_id = params.text("file_id")
    if not file_id:
        raise required("file_id")
    stored = state.files.get(file_id.strip())
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > MAX_DOWNLOAD_BYTES:
        raise bad_request("file is too big")
    return stored.to_api()


def _commands_key(params: Params) -> str:
    scope = params.structured("scope", "can't parse BotCommandScope JSON object") or {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "|" + (params.text("language_code") or "")


@bot_method("setMyCommands")
def set_my_commands(state: EmulatorState, params: Params) -> bool:
    commands = params.structured("commands", "can't parse commands JSON object")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    cleaned: list[JSON] = []
    for command in commands:
        name = str(command.get("command", "")) if isinstance(command, dict) else ""
        if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
            raise bad_request("BOT_COMMAND_INVALID")
        description = str(command.get("description", "")).strip()
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        cleaned.append({"command": name, "description": description})
    state.commands[_commands_key(params)] = cleaned
    return True


@bot_method("getMyCommands")
def get_my_commands(state: EmulatorState, params: Params) -> list[JSON]:
    return [dict(command) for command in state.commands.get(_commands_key(params), [])]


@bot_method("deleteMyCommands")
def delete_my_commands(state: EmulatorState, params: Params) -> bool:
    state.commands.pop(_commands_key(params), None)
    return True
