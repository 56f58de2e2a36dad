"""Property tests: whatever arrives from outside fails only in the one way each layer promises.

Each layer that reads untrusted input has one refusal: the console's InputError (an ``error``
line), WeChat's Refused (403), Telegram's ForgedCallback (the press is answered and ignored),
ConfigError (one line, exit 2) and FAQ problems (the last good content keeps serving); receipt
entry never fails at all. Pure parsing layers get thousands of examples, the whole console
pipeline a few dozen. Inputs include what fuzzing found: lone surrogates, invalid UTF-8, digits
that are not ASCII, numbers past Python's digit limit, nesting past the recursion limit, YAML
aliases and anchors.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from bot.channels.console import ConsoleChannel, InputError, parse_json_line
from bot.channels.telegram.adapter import MAX_CALLBACK_BYTES, ForgedCallback, TelegramAdapter
from bot.channels.wechat.callback import CallbackVerifier, Refused, VerifiedCallback, sha1_signature
from bot.config import ConfigError, load_config
from bot.core import Core
from handlers.faq.loader import load_content
from handlers.faq.yamlsource import load_yaml_file
from storage.crypto import Crypto, KeyRing
from storage.receipts import RECEIPT_PATTERN, normalise_receipt

pytestmark = pytest.mark.slow

FAST = HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much
WITH_FIXTURE = (*FAST, HealthCheck.function_scoped_fixture)

ANY_CHARACTER = st.characters(exclude_categories=())  # every code point, lone surrogates included
ANY_TEXT = st.text(ANY_CHARACTER, max_size=40)
TRICKY_TEXT = st.sampled_from(
    ["", " ", "\ud800", "\udcff", "a\ud800b", "\ud83d\ude00", "²", "١٢٣", "\x00", "\u202e", "０", "Ⅻ", "\ufeff", "界"]
)
SOME_TEXT = st.one_of(ANY_TEXT, TRICKY_TEXT, st.lists(st.one_of(ANY_TEXT, TRICKY_TEXT), max_size=4).map("".join))


def utf8_clean(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def flip(data: bytes, position: int, mask: int) -> bytes:
    """``data`` with one byte changed (nothing to change in empty data)."""
    if not data:
        return data
    index = position % len(data)
    return data[:index] + bytes([data[index] ^ (mask or 1)]) + data[index + 1 :]


# --- the console's JSON lines -------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), SOME_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(SOME_TEXT, inner, max_size=4)),
    max_leaves=8,
)
REQUESTS = st.dictionaries(
    st.one_of(st.sampled_from(["text", "choice"]), SOME_TEXT),
    st.one_of(SOME_TEXT, JSON_VALUES, st.sampled_from(["report", "agree", "status", "menu", "/start"])),
    max_size=3,
)


def raw_surrogates(request: dict[str, Any]) -> bytes:
    """JSON whose strings are written out, surrogates as their (invalid UTF-8) bytes."""
    return json.dumps(request, ensure_ascii=False).encode("utf-8", "surrogatepass")


ESCAPED = REQUESTS.map(lambda request: json.dumps(request).encode())  # lone surrogates as \\udxxx escapes
JSON_LINES = st.one_of(
    ESCAPED,
    REQUESTS.map(raw_surrogates),
    st.builds(flip, ESCAPED, st.integers(0, 10**6), st.integers(0, 255)),
    st.binary(max_size=120),
    st.integers(0, 3000).map(lambda depth: b'{"text": ' + b"[" * depth + b"]" * depth + b"}"),
    st.integers(1, 6000).map(lambda digits: b'{"text": ' + b"9" * digits + b"}"),
    SOME_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
)
INPUT_ERRORS = {"invalid_json", "invalid_utf8", "invalid_input"}


@settings(max_examples=3000, deadline=None, suppress_health_check=FAST)
@given(JSON_LINES)
def test_a_json_line_is_a_request_or_an_input_error(raw: bytes) -> None:
    try:
        text, choice = parse_json_line(raw)
    except InputError as error:
        assert error.code in INPUT_ERRORS
        return
    assert (text is None) != (choice is None)
    given_value = text if text is not None else choice
    assert isinstance(given_value, str) and utf8_clean(given_value)


START = b'{"text": "/start"}'
THEN_STATUS = b'{"choice": "status"}'
APOLOGY = "something went wrong"
_sessions = iter(range(10**9))


@settings(max_examples=30, deadline=None, suppress_health_check=WITH_FIXTURE)
@given(JSON_LINES)
async def test_the_console_answers_every_line_and_keeps_going(runtime: Core, raw: bytes) -> None:
    channel = ConsoleChannel(
        runtime.dispatcher, runtime.crypto, runtime.services.clock, user=f"fuzz-{next(_sessions)}", language="en"
    )
    lines = [START, raw.replace(b"\n", b" ").replace(b"\r", b" "), THEN_STATUS]
    stdout = io.StringIO()
    await channel.run_json(io.BytesIO(b"".join(line + b"\n" for line in lines)), stdout)
    out = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert all(set(reply) in ({"text", "choices"}, {"text", "choices", "error"}) for reply in out)
    assert all(isinstance(reply["text"], str) and reply["text"].strip() for reply in out)
    assert all(reply.get("error") in INPUT_ERRORS for reply in out if "error" in reply)
    assert sum("error" in reply for reply in out) <= 1
    assert len(out) >= 3 + bool(raw.strip()) and "error" not in out[-1], "the session did not go on after the line"
    assert not any(APOLOGY in reply["text"] for reply in out), "the core failed on the line"


# --- WeChat callbacks ---------------------------------------------------------------------------

TOKEN = "hapbotFuzzToken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_ID = "wx1234567890abcdef"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
NOW_SECONDS = int(NOW.timestamp())
SAFE = CallbackVerifier(TOKEN, AES_KEY, APP_ID, lambda: NOW)
PLAIN = CallbackVerifier(TOKEN, None, APP_ID, lambda: NOW, safe_mode=False)
WECHAT = WeChatCrypto(TOKEN, AES_KEY, APP_ID)

TIMESTAMPS = st.one_of(
    st.integers(NOW_SECONDS - 400, NOW_SECONDS + 400).map(str),
    st.integers(1, 6000).map(lambda digits: "7" * digits),
    st.sampled_from(["²", "١٧٠٠٠٠٠٠٠٠", "-1", "+1", " 1", "1.5", "0x10", "", "٣"]),
    SOME_TEXT,
)
NONCES = st.one_of(st.text("0123456789abcdef", min_size=1, max_size=12), SOME_TEXT)
MESSAGE_CONTENTS = ["举报", "1", "", "<b>&amp;</b>", "\U0001f600" * 20, "a" * 1500, "救命 help", "²", "\u202e"]
# Encrypted once here: WeChat's encryption draws random bytes, which strategies must not do.
GENUINE = [
    WECHAT.encrypt_message(
        f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oFuzz{n}]]></FromUserName>"
        f"<CreateTime>{NOW_SECONDS}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{9_000_000 + n}</MsgId></xml>",
        "n0nce",
        str(NOW_SECONDS),
    ).encode()
    for n, content in enumerate(MESSAGE_CONTENTS)
]


@st.composite
def callbacks(draw: st.DrawFn) -> tuple[dict[str, str], bytes]:
    """A query and a body: random, or signed and encrypted as WeChat does and then perhaps damaged."""
    timestamp, nonce = draw(TIMESTAMPS), draw(NONCES)
    query = {"timestamp": timestamp, "nonce": nonce, "openid": draw(TRICKY_TEXT), "encrypt_type": "aes"}
    kind = draw(st.sampled_from(["random", "xml", "genuine", "damaged"]))
    if kind == "random":
        body = draw(st.one_of(st.binary(max_size=300), SOME_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass"))))
    elif kind == "xml":
        inner = draw(st.one_of(SOME_TEXT, st.sampled_from(["<!DOCTYPE x>", "&lol;", "<![CDATA[", "<a><b>"])))
        body = f"<xml><Encrypt>{inner}</Encrypt></xml>".encode("utf-8", "surrogatepass")
    else:
        body = draw(st.sampled_from(GENUINE))
        if kind == "damaged":
            body = flip(body, draw(st.integers(0, 10**6)), draw(st.integers(0, 255)))
    found = re.search(rb"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>|<Encrypt>(.*?)</Encrypt>", body, re.DOTALL)
    encrypted = (found.group(1) or found.group(2) or b"").decode("utf-8", "surrogateescape") if found else ""
    if draw(st.booleans()):  # signed right, so the checks after the signature are reached too
        query["signature"] = sha1_signature(TOKEN, timestamp, nonce)
        query["msg_signature"] = sha1_signature(TOKEN, timestamp, nonce, encrypted)
    else:
        query["signature"] = draw(SOME_TEXT)
        query["msg_signature"] = draw(SOME_TEXT)
    return query, body


@st.composite
def url_checks(draw: st.DrawFn) -> dict[str, str]:
    """The query of WeChat's server URL check: random, or signed right over random parts."""
    timestamp, nonce = draw(TIMESTAMPS), draw(NONCES)
    query = {"timestamp": timestamp, "nonce": nonce, "echostr": draw(st.one_of(SOME_TEXT, st.just("1234567890")))}
    signed = draw(st.booleans())
    query["signature"] = sha1_signature(TOKEN, timestamp, nonce) if signed else draw(SOME_TEXT)
    return query


@settings(max_examples=1000, deadline=None, suppress_health_check=FAST)
@given(url_checks())
def test_a_url_check_answers_its_echostr_or_is_refused(query: dict[str, str]) -> None:
    try:
        echoed = SAFE.check_url(query)
    except Refused:
        return
    assert echoed == query.get("echostr", "") and utf8_clean(echoed)


@settings(max_examples=2000, deadline=None, suppress_health_check=FAST)
@given(callbacks(), st.booleans())
def test_a_message_callback_is_verified_or_refused(callback: tuple[dict[str, str], bytes], safe: bool) -> None:
    query, body = callback
    try:
        verified = (SAFE if safe else PLAIN).check_message(query, body)
    except Refused:
        return
    assert isinstance(verified, VerifiedCallback) and utf8_clean(verified.xml)
    assert verified.timestamp.isascii() and verified.nonce.isascii() and verified.nonce.isprintable()


# --- Telegram button data -----------------------------------------------------------------------

ADAPTER = TelegramAdapter(Crypto(KeyRing.generate()), ["main"])
USER_IDS = st.integers(-(2**63), 2**63)
CHOICE_IDS = st.sampled_from(["report", "agree", "status", "faq:legal-rights", "menu", "submit"])


@st.composite
def button_data(draw: st.DrawFn) -> tuple[int, str]:
    user_id = draw(USER_IDS)
    kind = draw(st.sampled_from(["random", "genuine", "someone else's", "edited", "bytes"]))
    if kind == "random":
        return user_id, draw(SOME_TEXT)
    if kind == "bytes":
        return user_id, draw(st.binary(max_size=80)).decode("utf-8", "surrogateescape")
    owner = user_id if kind != "someone else's" else draw(USER_IDS)
    data = ADAPTER.callback_data(owner, draw(CHOICE_IDS))
    if kind == "edited":
        position = draw(st.integers(0, len(data)))
        data = data[:position] + draw(SOME_TEXT) + data[position + draw(st.integers(0, 3)) :]
    return user_id, data


@settings(max_examples=2000, deadline=None, suppress_health_check=FAST)
@given(button_data())
def test_button_data_names_its_choice_or_is_refused_as_forged(pressed: tuple[int, str]) -> None:
    user_id, data = pressed
    try:
        choice = ADAPTER.verify_callback(user_id, data)
    except ForgedCallback:
        return
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    assert ADAPTER.callback_data(user_id, choice) == data, "only data this user's button carries is accepted"


# --- receipt entry ------------------------------------------------------------------------------

RECEIPT_LIKE = st.one_of(
    SOME_TEXT,
    st.text(st.sampled_from("023456789ABCDEFGHJKMNPQRSTUVWXYZabcdefOo1Il -—－_.·０Ａ\u200b\ufeff\ud800"), max_size=40),
    st.integers(150, 260).map(lambda n: "Ａ" * n),
)


@settings(max_examples=1500, deadline=None, suppress_health_check=FAST)
@given(RECEIPT_LIKE)
def test_receipt_entry_never_fails(text: str) -> None:
    canonical = normalise_receipt(text)
    if canonical is not None:
        assert RECEIPT_PATTERN.fullmatch(canonical) and normalise_receipt(canonical) == canonical


# --- the config file ----------------------------------------------------------------------------

SECTIONS = st.sampled_from(
    ["bot", "storage", "telegram", "wechat", "web", "hr", "sites.main", "sites.main.facts", "sites.north", "sites"]
)
KEYS = st.one_of(
    st.sampled_from(
        ["enabled", "token", "mode", "webhook_url", "secret_token", "proxy", "port", "host", "url", "keys_file",
         "data_dir", "faq_dir", "name", "hr_chats", "board_chats", "facts", "default_site", "encoding_aes_key",
         "app_id", "app_secret", "operator", "handlers", "emergency_phone", "admin_user_ids", "api_base_url"]
    ),
    st.text("abcdefghijklmnopqrstuvwxyz_.", min_size=1, max_size=12),
)
TOML_VALUES = st.recursive(
    st.one_of(
        SOME_TEXT.map(json.dumps),
        st.integers().map(str),
        st.integers(1, 6000).map(lambda digits: "9" * digits),
        st.floats().map(str),
        st.sampled_from(["true", "false", "1979-05-27T07:32:00Z", '"webhook"', '"polling"', '"safe"', "0", "65536"]),
        st.sampled_from(['"https://bot.example.com/telegram"', '"postgresql+asyncpg://u@[::1/x"', '"socks5://h:1"']),
        st.integers(0, 3000).map(lambda depth: "[" * depth + "]" * depth),
        st.integers(0, 3000).map(lambda depth: "{a = " * depth + "1" + "}" * depth),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
        st.dictionaries(KEYS, inner, max_size=3).map(
            lambda table: "{" + ", ".join(f"{k} = {v}" for k, v in table.items()) + "}"
        ),
    ),
    max_leaves=6,
)
TOML_LINES = st.one_of(
    SECTIONS.map(lambda section: f"[{section}]"),
    st.builds(lambda key, value: f"{key} = {value}", KEYS, TOML_VALUES),
    SOME_TEXT,
)
ENVIRONMENTS = st.dictionaries(
    st.sampled_from(
        ["HAPBOT_TELEGRAM_TOKEN", "HAPBOT_WEB__PORT", "HAPBOT_SITES__MAIN__NAME", "HAPBOT_BOT_OPERATOR",
         "HAPBOT_WEB__PORT__X", "HAPBOT_STORAGE_URL", "HAPBOT_WECHAT_ENCODING_AES_KEY", "HAPBOT_X"]
    ),
    SOME_TEXT,
    max_size=2,
)


@settings(max_examples=500, deadline=None, suppress_health_check=WITH_FIXTURE)
@given(st.lists(TOML_LINES, max_size=12).map("\n".join), ENVIRONMENTS)
def test_a_config_file_loads_or_is_a_config_error(tmp_path: Path, text: str, env: dict[str, str]) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_config(path, env)
    except ConfigError as error:
        assert str(error).strip()


# --- FAQ content --------------------------------------------------------------------------------

YAML_PIECES = st.one_of(
    SOME_TEXT,
    st.sampled_from(
        ["id: x", "title:", "  zh: 标题", "  en: Title", "answer: |", "    text", "questions:", "  zh:", "    - 问",
         "  en: [a, b]", "- item", "&a [1, 2]", "*a", "b: &b", "c: *b", "<<: *b", "? complex", ": value",
         "!!python/object/apply:os.system ['true']", "!custom x", "%YAML 1.1", "---", "...", "\tkey: tab",
         "key：full-width", "key:no-space", "{a: [b, {c: d}]}", "'unterminated", '"\\ud800"', "x: &x [*x]"]
    ),
    st.integers(0, 2000).map(lambda depth: "x: " + "[" * depth + "]" * depth),
    st.integers(0, 60).map(lambda depth: "".join(" " * level + f"k{level}:\n" for level in range(depth)) + "v"),
    st.integers(1, 12).map(
        lambda levels: "\n".join(
            [f"a0: &a0 [{', '.join(['x'] * 9)}]"]
            + [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, levels)]
        )
    ),
)
YAML_FILES = st.one_of(
    st.lists(YAML_PIECES, max_size=12).map(lambda pieces: "\n".join(pieces).encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
)


@settings(max_examples=500, deadline=None, suppress_health_check=WITH_FIXTURE)
@given(YAML_FILES)
def test_a_yaml_file_is_read_or_gives_problems(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "entry.yaml"
    path.write_bytes(data)
    node, problems = load_yaml_file(path)
    assert (node is None) == bool(problems) or node is not None
    assert all(problem.path == path and problem.line >= 1 and problem.message for problem in problems)


@settings(max_examples=200, deadline=None, suppress_health_check=WITH_FIXTURE)
@given(YAML_FILES, YAML_FILES)
def test_a_content_folder_loads_or_gives_problems(tmp_path: Path, entry: bytes, synonyms: bytes) -> None:
    (tmp_path / "entries").mkdir(exist_ok=True)
    (tmp_path / "entries" / "entry.yaml").write_bytes(entry)
    (tmp_path / "synonyms.yaml").write_bytes(synonyms)
    content = load_content(tmp_path)
    assert all(problem.line >= 1 and problem.message for problem in content.problems)
