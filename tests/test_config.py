"""Config: working defaults, errors that name the file and the key, env overrides, secrets that never print."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.channels.console import ConsoleChannel
from bot.config import Config, ConfigError, find_config_path, load_config
from bot.core import build_core, handler_settings

REPO = Path(__file__).resolve().parents[1]

TELEGRAM_TOKEN = "123456:TG-TOKEN-CANARY-a1b2c3"
TELEGRAM_SECRET = "tg-webhook-secret-CANARY-d4e5"
PROXY = "socks5://proxyuser:PROXY-PW-CANARY@10.0.0.1:1080"
WECHAT_TOKEN = "wx-token-CANARY-f6g7"
WECHAT_AES = "wxAesKeyCANARYh8i9" + "Q" * 25  # 43 letters and digits, as WeChat issues them
WECHAT_APP_SECRET = "wx-app-secret-CANARY-j0k1"
WECOM_WEBHOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=WECOM-KEY-CANARY-l2m3"
DB_PASSWORD = "DB-PW-CANARY-n4o5"
SECRETS = [
    TELEGRAM_TOKEN,
    TELEGRAM_SECRET,
    PROXY,
    WECHAT_TOKEN,
    WECHAT_AES,
    WECHAT_APP_SECRET,
    WECOM_WEBHOOK,
    DB_PASSWORD,
    "CANARY",
]

FULL_CONFIG = f"""
default_site = "main"

[storage]
url = "postgresql+asyncpg://hapbot:{DB_PASSWORD}@127.0.0.1:5432/hapbot"

[sites.main]
name = {{ zh = "一号厂", en = "Factory One" }}
hr_chats = ["telegram:-1001234567890"]
wecom_webhook_url = "{WECOM_WEBHOOK}"
emergency_phone = "0755-1234567"

[telegram]
enabled = true
token = "{TELEGRAM_TOKEN}"
mode = "webhook"
webhook_url = "https://bot.example.com/telegram"
secret_token = "{TELEGRAM_SECRET}"
proxy = "{PROXY}"

[wechat]
enabled = true
token = "{WECHAT_TOKEN}"
encoding_aes_key = "{WECHAT_AES}"
app_id = "wx0123456789abcdef"
app_secret = "{WECHAT_APP_SECRET}"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as raised:
        load_config(path, env or {})
    return str(raised.value)


# --- defaults ------------------------------------------------------------------------------------


def test_no_file_gives_defaults_a_newcomer_can_run() -> None:
    config = load_config(None, {})
    assert config.default_site in config.sites
    assert config.storage_url == "sqlite+aiosqlite:///data/hapbot.sqlite3"
    assert not config.telegram.enabled and not config.wechat.enabled
    settings = handler_settings(config)
    assert settings.site(None).id == config.default_site
    assert settings.site(None).name["zh"] and settings.site(None).name["en"]
    assert settings.operator["zh"] and settings.operator["en"]


async def test_defaults_run_a_conversation_on_sqlite_with_development_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.WARNING):
        runtime = await build_core(load_config(None, {}))
    try:
        channel = ConsoleChannel(runtime.dispatcher, runtime.crypto, runtime.services.clock, language="en")
        outcome = await channel.send("/start")
        assert [c.id for c in outcome.replies[-1].choices] == [
            "report", "status", "faq", "quiz", "remind_on", "language", "help"
        ]
    finally:
        await runtime.close()
    assert (tmp_path / "data" / "hapbot.sqlite3").is_file()
    assert any((tmp_path / "data" / "keys").iterdir()), "no development keys were created under ./data/keys"
    assert "DEVELOPMENT KEYS" in caplog.text


def test_config_path_comes_from_the_option_then_the_environment_then_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_path(None, {}) is None
    write(tmp_path, "")
    assert find_config_path(None, {}) == Path("config.toml")
    assert find_config_path(None, {"HAPBOT_CONFIG": "/etc/hapbot.toml"}) == Path("/etc/hapbot.toml")
    assert find_config_path("mine.toml", {"HAPBOT_CONFIG": "/etc/hapbot.toml"}) == Path("mine.toml")


# --- errors name the file and the key ---------------------------------------------------------------


def test_toml_syntax_error_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\ndefault_language = "en"\n[telegram\nenabled = true\n')
    message = config_error(path)
    assert str(path) in message
    assert "line 3" in message


def test_missing_and_undecodable_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    assert str(missing) in config_error(missing)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[sites.main]\nname = "Usine Générale"\n'.encode("latin-1"))
    message = config_error(latin1)
    assert str(latin1) in message and "UTF-8" in message


TELEGRAM_WEBHOOK = (
    '[telegram]\nenabled = true\ntoken = "123:abc"\nmode = "webhook"\nwebhook_url = "{url}"\nsecret_token = "s3cret"\n'
)
WECHAT_WITH_KEY = (
    '[wechat]\nenabled = true\ntoken = "t"\nencoding_aes_key = "{key}"\napp_id = "wx1"\napp_secret = "s"\n'
)

BAD_CONFIGS: list[tuple[str, str, str]] = [
    ("unknown key", '[bot]\nlanguage = "en"\n', r"bot\.language"),
    ("unknown section", "[telegarm]\nenabled = true\n", r"telegarm"),
    ("unknown site key", '[sites.main]\nname = "A"\nphone = "110"\n', r"sites\.main\.phone"),
    ("wrong type", '[bot]\ndraft_ttl_hours = "a day"\n', r"bot\.draft_ttl_hours"),
    ("wrong type (boolean)", '[telegram]\nenabled = "maybe"\n', r"telegram\.enabled"),
    ("out of range", "[web]\nport = 99999\n", r"web\.port"),
    (
        "a draft outliving its conversation",
        "[bot]\ndraft_ttl_hours = 48\nconversation_ttl_days = 1\n",
        r"bot: draft_ttl_hours \(48\) is longer than conversation_ttl_days",
    ),
    ("missing site name", 'default_site = "north"\n[sites.north]\nhr_chats = []\n', r"sites\.north\.name"),
    ("invalid site id", '[sites.main]\nname = "A"\n[sites."North Plant"]\nname = "B"\n', r"sites\.North Plant"),
    ("invalid default_site id", 'default_site = "Main Site"\n', r"default_site"),
    ("default_site not among sites", 'default_site = "south"\n[sites.main]\nname = "A"\n', r"default_site\b.*south"),
    ("telegram enabled without token", "[telegram]\nenabled = true\n", r"telegram(\.|: )token"),
    ("wechat enabled without credentials", '[wechat]\nenabled = true\ntoken = "x"\n', r"wechat\b.*app_secret"),
    ("bad emergency phone", '[sites.main]\nname = "A"\nemergency_phone = "ask Li"\n', r"sites\.main\.emergency_phone"),
    ("bad chat address", '[sites.main]\nname = "A"\nhr_chats = ["-1001234"]\n', r"sites\.main\.hr_chats"),
    ("unsupported database", '[storage]\nurl = "mysql://hapbot@db/hapbot"\n', r"storage\.url"),
    ("malformed database url", '[storage]\nurl = "postgresql+asyncpg://x:pw@[::1/db"\n', r"storage\.url.*not a valid"),
    ("NUL in a path", '[bot]\ndata_dir = "data\\u0000x"\n', r"bot\.data_dir.*NUL"),
    ("token with a space", '[telegram]\nenabled = true\ntoken = "123:abc def"\n', r"telegram: token: not a bot token"),
    ("webhook over http", TELEGRAM_WEBHOOK.format(url="http://bot.example.com/telegram"), r"telegram: webhook_url"),
    ("webhook on a private address", TELEGRAM_WEBHOOK.format(url="https://192.168.1.10/telegram"), r"webhook_url"),
    ("webhook on localhost", TELEGRAM_WEBHOOK.format(url="https://localhost/telegram"), r"webhook_url"),
    ("webhook on another port", TELEGRAM_WEBHOOK.format(url="https://bot.example.com:8080/telegram"), r"8080"),
    ("webhook url unparseable", TELEGRAM_WEBHOOK.format(url="https://bot.example.com:port/x"), r"webhook_url"),
    (
        "webhook secret with spaces",
        TELEGRAM_WEBHOOK.format(url="https://bot.example.com/telegram").replace('"s3cret"', '"my secret"'),
        r"telegram: secret_token",
    ),
    ("proxy without a scheme", '[telegram]\nproxy = "10.0.0.1:1080"\n', r"telegram: proxy"),
    ("short EncodingAESKey", WECHAT_WITH_KEY.format(key="abc"), r"wechat: encoding_aes_key.*has 3 characters"),
    ("EncodingAESKey with a symbol", WECHAT_WITH_KEY.format(key="+" * 43), r"wechat: encoding_aes_key"),
    ("zero deadline", "[hr.deadlines]\nacknowledge_days = 0\n", r"hr\.deadlines\.acknowledge_days"),
    (
        "unknown deadline key",
        '[sites.main]\nname = "A"\n[sites.main.deadlines]\nack = 2\n',
        r"sites\.main\.deadlines\.ack",
    ),
    (
        "deadlines out of order",
        '[sites.main]\nname = "A"\n[sites.main.deadlines]\nfeedback_days = 3\n',
        r"sites\.main\.deadlines.*feedback_days \(3\)",
    ),
    (
        "reminder longer than the deadline",
        '[sites.main]\nname = "A"\n[sites.main.deadlines]\nacknowledge_days = 2\nremind_before_hours = 48\n',
        r"sites\.main\.deadlines.*remind_before_hours",
    ),
    (
        "reminder before a late-evening report",  # due 18:00 next day: a 20-hour reminder precedes a 22:30 report
        '[sites.main]\nname = "A"\n[sites.main.deadlines]\nacknowledge_days = 1\nremind_before_hours = 20\n',
        r"sites\.main\.deadlines.*remind_before_hours \(20\) must be at most 18",
    ),
    (
        "reminder before a late-evening report on the night clocks go forward",
        '[bot]\ntime_zone = "America/New_York"\n[sites.main]\nname = "A"\n[sites.main.deadlines]\n'
        "acknowledge_days = 1\nremind_before_hours = 18\n",
        r"sites\.main\.deadlines.*remind_before_hours \(18\) must be at most 17",
    ),
    ("desk address with a query", '[web]\npublic_url = "https://desk.example.org/?x=1"\n', r"web\.public_url"),
]


@pytest.mark.parametrize(("toml", "key"), [(t, k) for _, t, k in BAD_CONFIGS], ids=[n for n, _, _ in BAD_CONFIGS])
def test_each_error_names_the_file_and_the_key_path(tmp_path: Path, toml: str, key: str) -> None:
    path = write(tmp_path, toml)
    message = config_error(path)
    assert str(path) in message
    assert re.search(key, message), f"{key!r} not named in:\n{message}"
    assert "Traceback" not in message and "pydantic" not in message.lower()


def test_a_file_that_is_no_config_gives_one_line(tmp_path: Path) -> None:
    """A folder, a device, TOML nested past the parser's recursion or a number past Python's digit
    limit: one line naming the file, never a traceback."""
    files = {
        "deeply nested array": "x = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "deeply nested inline table": "x = " + "{a = " * 100_000 + "1" + "}" * 100_000 + "\n",
        "5,000-digit number": "[web]\nport = " + "9" * 5000 + "\n",
        "over a megabyte": "# " + "x" * (1024 * 1024) + "\n",
    }
    paths = {name: write(tmp_path, text, f"{index}.toml") for index, (name, text) in enumerate(files.items())}
    paths["a folder"] = tmp_path
    paths["a device"] = Path("/dev/zero")
    for name, path in paths.items():
        message = config_error(path)
        assert message.startswith(f"{path}: ") and "\n" not in message, (name, message)


def test_an_environment_variable_that_is_not_utf8_is_named() -> None:
    message = config_error(None, {"HAPBOT_BOT_OPERATOR": "Usine G\udce9n\udce9rale"})
    assert message.startswith("HAPBOT_BOT_OPERATOR: ") and "UTF-8" in message


def test_local_bot_api_servers_may_take_a_local_webhook(tmp_path: Path) -> None:
    local = TELEGRAM_WEBHOOK.format(url="http://127.0.0.1:8081/telegram") + 'api_base_url = "http://127.0.0.1:8081/bot"\n'
    assert load_config(write(tmp_path, local), {}).telegram.webhook_url == "http://127.0.0.1:8081/telegram"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, '[bot]\nlanguage = "en"\ndraft_ttl_hours = 0\n[web]\nport = 0\n')
    message = config_error(path)
    for key in ("bot.language", "bot.draft_ttl_hours", "web.port"):
        assert key in message


# --- environment overrides ------------------------------------------------------------------------

SITE_MAIN = '[sites.main]\nname = { zh = "一号厂", en = "Factory One" }\nemergency_phone = "0755-1111111"\n'


def test_environment_overrides_apply(tmp_path: Path) -> None:
    path = write(tmp_path, SITE_MAIN + "[telegram]\nenabled = true\n")
    env = {
        "HAPBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "HAPBOT_STORAGE_URL": f"postgresql+asyncpg://hapbot:{DB_PASSWORD}@127.0.0.1/hapbot",
        "HAPBOT_SITES__main__EMERGENCY_PHONE": "0755-7654321",
    }
    config = load_config(path, env)
    assert config.telegram.token is not None
    assert config.telegram.token.get_secret_value() == TELEGRAM_TOKEN
    assert config.storage_url == env["HAPBOT_STORAGE_URL"]
    assert config.sites["main"].emergency_phone == "0755-7654321", "the environment must win over the file"
    assert config.sites["main"].name == {"zh": "一号厂", "en": "Factory One"}


def test_environment_overrides_apply_without_a_file() -> None:
    config = load_config(
        None, {"HAPBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN, "HAPBOT_STORAGE_URL": "sqlite+aiosqlite:///x.db"}
    )
    assert config.telegram.token is not None and config.telegram.token.get_secret_value() == TELEGRAM_TOKEN
    assert config.storage_url == "sqlite+aiosqlite:///x.db"


def test_environment_override_of_the_default_site_without_a_file() -> None:
    """A newcomer with no config file sets the default site's emergency phone from the environment."""
    config = load_config(None, {"HAPBOT_SITES__main__EMERGENCY_PHONE": "0755-7654321"})
    assert config.sites["main"].emergency_phone == "0755-7654321"
    assert config.sites["main"].name, "the default site lost its name"


def test_reserved_environment_variables_are_not_config_keys() -> None:
    config = load_config(None, {"HAPBOT_CONFIG": "x.toml", "HAPBOT_KEYS_FILE": "k.json", "HAPBOT_TEST_PG": "pg"})
    assert config.default_site == "main"


def test_an_unknown_environment_override_is_named(tmp_path: Path) -> None:
    message = config_error(None, {"HAPBOT_TELEGRAM_TOKN": TELEGRAM_TOKEN})
    assert "telegram.tokn" in message
    assert TELEGRAM_TOKEN not in message


# --- secrets never print ----------------------------------------------------------------------------


def test_secrets_never_appear_in_repr_str_or_json(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL_CONFIG), {})
    assert config.telegram.token is not None and config.telegram.token.get_secret_value() == TELEGRAM_TOKEN
    assert DB_PASSWORD in config.storage_url, "the explicit accessor must still give the real URL"
    renderings = {
        "repr": repr(config),
        "str": str(config),
        "format": f"{config}",
        "model_dump_json": config.model_dump_json(),
        "model_dump(json)": str(config.model_dump(mode="json")),
        "model_dump": str(config.model_dump()),
        "repr(telegram)": repr(config.telegram),
        "repr(wechat)": repr(config.wechat),
        "repr(sites)": repr(config.sites),
        "repr(storage)": repr(config.storage),
    }
    leaks = [(where, secret) for where, text in renderings.items() for secret in SECRETS if secret in text]
    assert not leaks, f"secrets printed: {leaks}"


@pytest.mark.parametrize(
    "broken",
    [
        FULL_CONFIG.replace('mode = "webhook"', 'mode = "webhook"\nlog_level = "x"'),
        FULL_CONFIG.replace('webhook_url = "https://bot.example.com/telegram"\n', ""),
        FULL_CONFIG.replace('app_id = "wx0123456789abcdef"\n', "").replace('url = "postgresql', 'url = "mysql'),
        FULL_CONFIG.replace("enabled = true", 'enabled = "yes please"').replace(
            'emergency_phone = "0755-1234567"', 'emergency_phone = "ring"'
        ),
        FULL_CONFIG + '\n[telegram.extra]\nx = "y"\n',
        FULL_CONFIG.replace(f'token = "{TELEGRAM_TOKEN}"', f"token = {TELEGRAM_TOKEN}"),
    ],
    ids=["unknown key", "webhook without url", "two errors", "wrong types", "unknown sub-table", "unquoted token"],
)
def test_config_errors_never_contain_secrets(tmp_path: Path, broken: str) -> None:
    message = config_error(write(tmp_path, broken))
    leaks = [secret for secret in SECRETS if secret in message]
    assert not leaks, f"secrets in the error: {leaks}\n{message}"


def test_errors_caused_by_environment_secrets_do_not_print_them(tmp_path: Path) -> None:
    env = {
        "HAPBOT_STORAGE_URL": f"mysql://hapbot:{DB_PASSWORD}@db/hapbot",
        "HAPBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
        "HAPBOT_TELEGRAM_ENABLED": "true",
        "HAPBOT_TELEGRAM_MODE": "webhook",
    }
    message = config_error(write(tmp_path, SITE_MAIN), env)
    assert "storage.url" in message
    assert not [secret for secret in SECRETS if secret in message], message


# --- the documented example ---------------------------------------------------------------------


def test_a_site_overrides_some_deadlines_and_takes_the_rest_from_hr(tmp_path: Path) -> None:
    toml = (
        "[hr.deadlines]\nfeedback_days = 21\n"
        '[sites.main]\nname = "A"\n[sites.main.deadlines]\nacknowledge_days = 2\nremind_before_hours = 12\n'
        '[sites.north]\nname = "B"\n'
    )
    config = load_config(write(tmp_path, toml))
    main, north = config.deadlines_for("main"), config.deadlines_for("north")
    assert (main.acknowledge_days, main.feedback_days, main.resolve_days) == (2, 21, 90)
    assert main.remind_before == timedelta(hours=12)
    assert (north.acknowledge_days, north.feedback_days, north.remind_before) == (7, 21, timedelta(hours=24))


def test_config_example_validates() -> None:
    example = REPO / "config.example.toml"
    if not example.exists():
        pytest.skip("config.example.toml is not in the repository yet (the lead is writing it)")
    config = load_config(example, {})
    assert isinstance(config, Config)
    assert config.default_site in config.sites


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("desk.example.com", "must be an https:// address"),
        ("http://desk.example.com", "must be an https:// address"),
        ("https://desk.example.com/?next=1", "no user, query or #fragment"),
        ("https://user@desk.example.com", "no user, query or #fragment"),
        ("https://desk.example.com:99999", "not a valid URL"),
    ],
)
def test_web_public_url_is_checked(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(None, {"HAPBOT_WEB_PUBLIC_URL": url})
    assert "web.public_url" in str(raised.value) and problem in str(raised.value)


def test_web_public_url_accepts_https_and_local_http() -> None:
    assert load_config(None, {"HAPBOT_WEB_PUBLIC_URL": "https://desk.example.com/hap/"}).web.public_url == (
        "https://desk.example.com/hap"
    )
    assert load_config(None, {"HAPBOT_WEB_PUBLIC_URL": "http://127.0.0.1:8080"}).web.public_url == "http://127.0.0.1:8080"
    assert load_config(None, {}).web.public_url is None
