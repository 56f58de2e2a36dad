"""One validated TOML file with environment overrides for secrets.

Start-up fails with every problem at once, each naming its key and how to fix it, because the
people who deploy the bot are HR and IT staff at a factory, not the developers. Secrets are
``SecretStr`` so they print as ``**********`` in reprs, logs and errors.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from handlers.reminder_rules import RuleError, parse_clock, parse_quiet, parse_rule, zone
from storage.deadline_rules import DUE_AT, CaseDeadlines

ENV_PREFIX = "HAPBOT_"
# Variables with a meaning of their own, not overrides of a config key.
RESERVED_ENV = {"HAPBOT_CONFIG", "HAPBOT_KEYS", "HAPBOT_KEYS_FILE", "HAPBOT_TEST_PG"}
SITE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
MAX_CONFIG_BYTES = 1024 * 1024  # a config file is a few KB; this only stops a wrong path (a log, a device)
TELEGRAM_TOKEN_PATTERN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
TELEGRAM_SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what setWebhook accepts
TELEGRAM_WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})  # the only ports Telegram delivers webhooks to
PROXY_SCHEMES = frozenset({"http", "https", "socks5", "socks5h"})
WECHAT_AES_KEY_PATTERN = re.compile(r"[A-Za-z0-9]{43}")
ACCOUNT_NAME = re.compile(r"(?=.{1,64}\Z)[\w.-]+(?: [\w.-]+)*")  # the same rule as storage.accounts.NAME_PATTERN

LocalText = str | dict[Literal["zh", "en"], str]


def _default_operator() -> LocalText:
    return {"zh": "本厂人力资源部", "en": "the HR department of this factory"}


class ConfigError(Exception):
    """Bad configuration; ``str()`` is ready to show to the person who deploys the bot."""


def _usable_path(value: Path | None) -> Path | None:
    if value is not None and "\x00" in str(value):
        raise ValueError("contains a NUL character, which no file name can hold")
    return value


def _webhook_url_problem(url: str, *, local_api: bool) -> str | None:
    """What Telegram would refuse in ``setWebhook`` (a local Bot API server allows more), or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL; write it like https://bot.example.com/telegram"
    host = parts.hostname or ""
    if local_api:
        return None if parts.scheme in ("http", "https") and host else "must be an http(s) URL with a host"
    if parts.scheme != "https" or not host:
        return "must be a public https:// URL ending in /telegram, like https://bot.example.com/telegram"
    if port is not None and port not in TELEGRAM_WEBHOOK_PORTS:
        ports = ", ".join(str(p) for p in sorted(TELEGRAM_WEBHOOK_PORTS))
        return f"port {port} cannot receive Telegram webhooks; use one of {ports} (a proxy can forward to [web] port)"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "must name a public host, not localhost" if host == "localhost" else None
    if not address.is_global:
        return f"{host} is not a public address; Telegram can only deliver to a public host"
    return None


def _public_url_problem(url: str) -> str | None:
    """What is wrong with the desk's public address, or None."""
    example = "write it like https://desk.example.com (a path such as /hapbot is allowed)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return f"not a valid URL; {example}"
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return f"must be an http(s):// URL with a host; {example}"
    if parts.query or parts.fragment or parts.username or parts.password:
        return f"must have no query, fragment or user name; {example}"
    if parts.scheme == "http" and host not in ("localhost", "127.0.0.1", "::1"):
        return f"must be https:// (HR open it on phones, often on public Wi-Fi); {example}"
    return None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BotSection(_Section):
    operator: LocalText = Field(
        default_factory=_default_operator,
        description="Who operates the bot; named in the privacy notice.",
    )
    default_language: Literal["zh", "en"] = "zh"
    draft_ttl_hours: int = Field(default=24, ge=1, le=720)
    conversation_ttl_days: int = Field(default=30, ge=1, le=365)
    retention_days: int = Field(default=730, ge=30, le=3650)
    training_retention_days: int = Field(
        default=1095, ge=30, le=3650, description="Days a training record a worker chose to keep is kept."
    )
    time_zone: str = Field(default="Asia/Shanghai", description="Days and months of training records and figures.")
    status_session_minutes: int = Field(default=10, ge=1, le=120)
    data_dir: Path = Path("data")
    admin_chats: list[str] = Field(default_factory=list, description="Chats told about refused FAQ edits.")
    faq_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("data_dir", "faq_dir")
    @classmethod
    def _usable_path(cls, value: Path | None) -> Path | None:
        return _usable_path(value)

    @model_validator(mode="after")
    def _draft_within_conversation(self) -> BotSection:
        if self.draft_ttl_hours > 24 * self.conversation_ttl_days:
            raise ValueError(
                f"draft_ttl_hours ({self.draft_ttl_hours}) is longer than conversation_ttl_days "
                f"({self.conversation_ttl_days} days): a conversation forgotten after its days takes its unfinished "
                "report with it; lower draft_ttl_hours or raise conversation_ttl_days"
            )
        return self


    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name; write one like 'Asia/Shanghai'") from None
        return value


class StorageSection(_Section):
    url: SecretStr = SecretStr("")
    keys_file: Path | None = None
    audit_key_file: Path | None = None
    # Memory that receipt hashes (argon2id, 19 MiB each) may take at once; more wait their turn.
    # 40: two at once, one per core of a 2-core machine (a hash keeps one core busy).
    receipt_hash_memory_mib: int = Field(default=40, ge=19, le=65536)

    @field_validator("keys_file", "audit_key_file")
    @classmethod
    def _usable_path(cls, value: Path | None) -> Path | None:
        return _usable_path(value)

    def resolved_url(self, data_dir: Path) -> str:
        url = self.url.get_secret_value()
        return url or f"sqlite+aiosqlite:///{data_dir / 'hapbot.sqlite3'}"

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: SecretStr) -> SecretStr:
        url = value.get_secret_value()
        if url and not url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "must start with sqlite+aiosqlite:// or postgresql+asyncpg:// "
                "(for example postgresql+asyncpg://hapbot@127.0.0.1:5432/hapbot)"
            )
        if url:
            from sqlalchemy.engine import make_url  # only when a URL is set: check-config stays light
            from sqlalchemy.exc import ArgumentError

            try:
                make_url(url)
            except (ArgumentError, ValueError):
                raise ValueError(  # the URL itself is never shown: it may hold the password
                    "is not a valid database URL; check its host, :port and /database parts "
                    "(for example postgresql+asyncpg://hapbot@127.0.0.1:5432/hapbot)"
                ) from None
        return value


def _checked(value: str, reader: Callable[[str], object]) -> str:
    try:
        reader(value)
    except RuleError as error:
        raise ValueError(str(error)) from None
    return value


def _clock_time(value: str) -> str:
    return _checked(value, parse_clock)


ClockTime = Annotated[str, AfterValidator(_clock_time)]
"""A time of day as "HH:MM" in the site's time zone (every schedule's ``send_at``)."""


class TrainingSchedule(_Section):
    """The refresher training (twice a year): its dates, or a rule, and when to remind."""

    dates: list[date] = Field(default_factory=list, description="Training days, e.g. 2026-03-04.")
    rule: str | None = Field(default=None, description="e.g. 'first wednesday of march, september'.")
    at: ClockTime = Field(default="14:00", description="When the training starts (site time); no reminder after it.")
    remind_days_before: int = Field(default=2, ge=0, le=30)
    send_at: ClockTime = Field(default="09:00", description="When the reminder goes out (site time).")
    place: LocalText | None = Field(default=None, description="Default: the site's fact training_place.")

    @field_validator("rule")
    @classmethod
    def _rule(cls, value: str | None) -> str | None:
        return None if value is None else _checked(value, parse_rule)

    @model_validator(mode="after")
    def _has_days(self) -> TrainingSchedule:
        if not self.dates and not self.rule:
            raise ValueError("give dates = [...] or rule = '...' (or remove [sites.<id>.reminders.training])")
        if self.remind_days_before == 0 and parse_clock(self.send_at) >= parse_clock(self.at):
            raise ValueError("send_at must be before at when remind_days_before = 0 (no reminder after the training)")
        return self


class QuizSchedule(_Section):
    """The monthly refresher quiz."""

    rule: str = Field(default="first monday of every month")
    send_at: ClockTime = "10:00"
    valid_days: int = Field(default=7, ge=1, le=31, description="After this the reminder is not sent or shown.")
    quiz: str = Field(default="", description="A quiz id to open; empty opens the quiz menu.")

    @field_validator("rule")
    @classmethod
    def _rule(cls, value: str) -> str:
        return _checked(value, parse_rule)


class OnboardingSchedule(_Section):
    """A subscribed worker's first weeks: the welcome at once, a quiz on day 3, help on day 30."""

    enabled: bool = True
    send_at: ClockTime = "10:00"
    quiz: str = Field(default="onboarding", description="The quiz opened on day 3 (and by candidate links).")


class SiteReminders(_Section):
    time_zone: str = "Asia/Shanghai"
    quiet_hours: str = Field(default="22:00-07:00", description="No reminder arrives then (site time); 'off' for none.")
    wechat_template_id: str | None = Field(
        default=None,
        description="A training-reminder template of the official account, used outside WeChat's 48 hours.",
    )
    training: TrainingSchedule | None = None
    quiz: QuizSchedule | None = None
    onboarding: OnboardingSchedule = Field(default_factory=OnboardingSchedule)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _checked(value, zone)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str) -> str:
        return _checked(value, parse_quiet)


class SiteDigest(_Section):
    """The weekly digest to the site's HR chats (and the board's own to its board chats)."""

    weekday: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    send_at: ClockTime = Field(default="09:00", description="When it goes out, in the site's time zone (reminders).")
    chart_language: Literal["zh", "en"] = Field(default="zh", description="The chart's language; the text has both.")


class SiteDeadlines(_Section):
    """A site's own case deadlines; a key left out takes [hr.deadlines]'s value."""

    acknowledge_days: int | None = Field(default=None, ge=1, le=90)
    feedback_days: int | None = Field(default=None, ge=1, le=365)
    resolve_days: int | None = Field(default=None, ge=1, le=730)
    remind_before_hours: int | None = Field(default=None, ge=0, le=14 * 24)


class DeadlinesSection(_Section):
    """Case deadlines in calendar days from when a report arrives (or is reopened)."""

    acknowledge_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="HR acknowledges a report within this many days (many brands' codes ask for 2 working days).",
    )
    feedback_days: int = Field(default=14, ge=1, le=365, description="HR first writes to the reporter within this.")
    resolve_days: int = Field(default=90, ge=1, le=730, description="The case is resolved within this many days.")
    remind_before_hours: int = Field(
        default=24, ge=0, le=14 * 24, description="HR's chat is reminded this long before each deadline; 0 for never."
    )


def merged_deadlines(defaults: DeadlinesSection, site: SiteDeadlines, time_zone: str) -> CaseDeadlines:
    def value(key: str) -> int:
        own = getattr(site, key)
        return int(own if own is not None else getattr(defaults, key))

    return CaseDeadlines(
        acknowledge_days=value("acknowledge_days"),
        feedback_days=value("feedback_days"),
        resolve_days=value("resolve_days"),
        remind_before=timedelta(hours=value("remind_before_hours")),
        time_zone=time_zone,
    )


def _clock_change(time_zone: str) -> timedelta:
    """How far the zone's clocks move in a year (daylight saving), zero where they never do."""
    zone = ZoneInfo(time_zone)
    year = datetime.now(UTC).year
    offsets = [datetime(year, month, 1, 12, tzinfo=zone).utcoffset() or timedelta(0) for month in range(1, 13)]
    return max(offsets) - min(offsets)


def deadline_problem(deadlines: CaseDeadlines) -> str | None:
    """Why a site's deadlines cannot work together, or None."""
    if not deadlines.acknowledge_days <= deadlines.feedback_days <= deadlines.resolve_days:
        return (
            f"acknowledge_days ({deadlines.acknowledge_days}) <= feedback_days ({deadlines.feedback_days}) "
            f"<= resolve_days ({deadlines.resolve_days}) must hold; lengthen the later ones"
        )
    # A case received just before midnight is due at DUE_AT on its last day: the shortest span there
    # is. A reminder moment before that midnight would fall before some reports, and such a reminder
    # goes out at the first pass after the report, telling the HR chat when it arrived.
    # Where clocks go forward in spring, that night is shorter by the change (an hour in most zones).
    day_end_to_due = datetime.combine(date.min, DUE_AT) - datetime.combine(date.min, time(0))
    shortest = timedelta(days=deadlines.acknowledge_days - 1) + day_end_to_due - _clock_change(deadlines.time_zone)
    if deadlines.remind_before > shortest:
        return (
            f"remind_before_hours ({int(deadlines.remind_before.total_seconds() // 3600)}) must be at most "
            f"{int(shortest.total_seconds() // 3600)} with acknowledge_days = {deadlines.acknowledge_days}: a report "
            f"received late in the evening is due at {DUE_AT:%H:%M} on its last day, and a longer reminder would "
            "come at the moment of the report and tell the HR chat when it arrived"
        )
    return None


class SiteSection(_Section):
    name: LocalText
    operator: LocalText | None = Field(
        default=None, description="Who operates the bot for this site, in the privacy notice; default [bot] operator."
    )
    hr_chats: list[str] = Field(default_factory=list)
    board_chats: list[str] = Field(default_factory=list)
    wecom_webhook_url: SecretStr | None = None
    contacts: dict[str, LocalText] = Field(default_factory=dict)
    facts: dict[str, LocalText] = Field(default_factory=dict)
    emergency_phone: str | None = Field(default=None, pattern=r"^[0-9+\- ]{3,20}$")
    reminders: SiteReminders = Field(default_factory=SiteReminders)
    digest: SiteDigest | None = Field(default=None, description="A weekly digest; none without this section.")
    deadlines: SiteDeadlines = Field(default_factory=SiteDeadlines)

    @field_validator("hr_chats", "board_chats")
    @classmethod
    def _chat_addresses(cls, chats: list[str]) -> list[str]:
        for chat in chats:
            kind, _, rest = chat.partition(":")
            if kind not in {"telegram", "wecom"} or not rest:
                raise ValueError(f"{chat!r} must look like 'telegram:-1001234567890' or 'wecom:<robot name>'")
        return chats


class TelegramSection(_Section):
    enabled: bool = False
    token: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    secret_token: SecretStr | None = None
    proxy: SecretStr | None = None
    api_base_url: str | None = Field(default=None, description="A local Bot API server (or the test emulator).")
    api_file_url: str | None = None
    admin_user_ids: list[int] = Field(default_factory=list, description="Telegram users who may send /reload.")
    messages_per_second: int = Field(
        default=30, ge=1, le=1000, description="All messages together; Telegram allows about 30 a second."
    )

    @model_validator(mode="after")
    def _needs_token(self) -> TelegramSection:
        if self.enabled and not self.token:
            raise ValueError("token: required when [telegram] enabled = true (or set HAPBOT_TELEGRAM_TOKEN)")
        if self.token and not TELEGRAM_TOKEN_PATTERN.fullmatch(self.token.get_secret_value()):
            raise ValueError(
                "token: not a bot token as @BotFather gives it (digits, a colon, then letters, digits, '-' or '_'); "
                "copy it again, without spaces or quotes"
            )
        if self.enabled and self.mode == "webhook":
            if not (self.webhook_url and self.secret_token):
                raise ValueError("webhook mode needs webhook_url and secret_token (HAPBOT_TELEGRAM_SECRET_TOKEN)")
            if not TELEGRAM_SECRET_PATTERN.fullmatch(self.secret_token.get_secret_value()):
                raise ValueError("secret_token: use 1 to 256 letters, digits, '-' or '_' (Telegram allows no others)")
            problem = _webhook_url_problem(self.webhook_url, local_api=self.api_base_url is not None)
            if problem:
                raise ValueError(f"webhook_url: {problem}")
        if self.proxy is not None:
            try:
                proxy = urlsplit(self.proxy.get_secret_value())
                has_host = bool(proxy.hostname) and (proxy.port is None or proxy.port > 0)
            except ValueError:  # a port that is no number, a broken [IPv6] address
                proxy, has_host = None, False
            if proxy is None or proxy.scheme not in PROXY_SCHEMES or not has_host:
                raise ValueError(  # the proxy URL is never shown: it may hold a password
                    "proxy: must be a URL like socks5://user:password@host:1080 or http://host:3128 "
                    f"(schemes: {', '.join(sorted(PROXY_SCHEMES))})"
                )
        return self


class WechatSection(_Section):
    enabled: bool = False
    token: SecretStr | None = None
    encoding_aes_key: SecretStr | None = None
    app_id: str | None = None
    app_secret: SecretStr | None = None
    mode: Literal["safe", "compatible", "plaintext"] = "safe"
    allow_insecure_mode: bool = False
    api_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^?#]+$",
        description="The WeChat API server without /cgi-bin (default https://api.weixin.qq.com; tests use a fake).",
    )

    @model_validator(mode="after")
    def _needs_credentials(self) -> WechatSection:
        if not self.enabled:
            return self
        missing = [k for k in ("token", "encoding_aes_key", "app_id", "app_secret") if not getattr(self, k)]
        if missing:
            raise ValueError(f"missing {', '.join(missing)} (set them here or as HAPBOT_WECHAT_<KEY>)")
        if self.mode != "safe" and not self.allow_insecure_mode:
            raise ValueError("mode must be 'safe' in production; set allow_insecure_mode = true only for development")
        assert self.encoding_aes_key is not None
        aes_key = self.encoding_aes_key.get_secret_value()
        if not WECHAT_AES_KEY_PATTERN.fullmatch(aes_key):
            raise ValueError(  # the key is never shown, only its length
                "encoding_aes_key: must be the 43 letters and digits the WeChat admin console generates "
                f"(基本配置 → EncodingAESKey); this one has {len(aes_key)} characters"
            )
        return self


class HrSection(_Section):
    alert_max_delay_minutes: int = Field(
        default=60,
        ge=0,
        le=24 * 60,
        description=(
            "Non-urgent case alerts go out at a random moment within this many minutes, so the alert's "
            "time does not point at who was on the phone when the report was sent; 0 sends them at once."
        ),
    )
    handlers: list[str] = Field(
        default_factory=list,
        description="Old way to name HR case handlers; `hapbot hr migrate` turns them into desk accounts.",
    )
    board_members: list[str] = Field(
        default_factory=list,
        description="Old way to name board members; `hapbot hr migrate` turns them into desk accounts.",
    )
    deadlines: DeadlinesSection = Field(default_factory=DeadlinesSection)

    @field_validator("handlers", "board_members")
    @classmethod
    def _account_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not ACCOUNT_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r} is not usable as a desk account name: use 1 to 64 letters, digits, '.', '_' or '-' "
                    "(Chinese characters are fine), with single spaces between words"
                )
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"{', '.join(duplicates)} listed twice; list each person once")
        return names

    @model_validator(mode="after")
    def _one_role_each(self) -> HrSection:
        both = sorted(set(self.handlers) & set(self.board_members))
        if both:
            raise ValueError(f"{', '.join(both)} cannot be both an HR handler and a board member")
        return self


class RemindersSection(_Section):
    grace_hours: int = Field(
        default=6,
        ge=0,
        le=72,
        description="A reminder due while the bot was down still goes out this late, never after its occasion.",
    )
    batch_size: int = Field(default=200, ge=1, le=5000, description="Reminders claimed and sent per batch.")
    send_lease_seconds: int = Field(
        default=120,
        ge=5,
        le=3600,
        description="A batch not recorded after this long (a crash) is sent again and counted as in doubt.",
    )


LOOPBACK_HTTP = re.compile(r"http://127\.0\.0\.1(:[0-9]{1,5})?(/.*)?")


class WebSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_url: str | None = Field(
        default=None,
        description="Where HR opens the desk (https://desk.example.com); enrolment links and alert links start here.",
    )
    secure_cookies: bool = Field(
        default=True, description="Desk cookies are Secure; false only with public_url = http://127.0.0.1:…"
    )
    session_idle_minutes: int = Field(
        default=15, ge=1, le=240, description="A desk session ends after this long without a request."
    )
    session_absolute_hours: int = Field(
        default=12, ge=1, le=72, description="A desk session ends this long after sign-in, however active."
    )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises on a port that is no number)
        except ValueError:
            raise ValueError("not a valid URL; write it like https://desk.example.com") from None
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("give the address only (no user, query or #fragment), like https://desk.example.com")
        if parts.scheme == "https" and parts.hostname:
            return value
        if LOOPBACK_HTTP.fullmatch(value):
            return value
        raise ValueError(
            "must be an https:// address, like https://desk.example.com (http:// only as http://127.0.0.1:PORT "
            "for trying the desk on this machine)"
        )

    @model_validator(mode="after")
    def _secure_cookies(self) -> WebSection:
        if not self.secure_cookies and not (self.public_url and LOOPBACK_HTTP.fullmatch(self.public_url)):
            raise ValueError(
                "secure_cookies = false is allowed only when public_url is http://127.0.0.1:PORT (trying the desk "
                "on this machine); remove it, and serve the desk over https"
            )
        if self.session_absolute_hours * 60 < self.session_idle_minutes:
            raise ValueError("session_absolute_hours must be at least session_idle_minutes")
        return self


def _default_sites() -> dict[str, SiteSection]:
    """A site for a newcomer with no config file: generic facts that point to the notice board."""
    facts: dict[str, LocalText] = {
        "hr_contact": {
            "zh": "人事部，联系方式见厂区公告栏",
            "en": "The HR office (contact details are on the factory notice board)",
        },
        "advocacy_board": {"zh": "成员名单见厂区公告栏", "en": "Its members are listed on the factory notice board"},
        "training_schedule": {"zh": "培训日期见厂区公告栏", "en": "The dates are on the factory notice board"},
        "handbook_location": {"zh": "可以向人事部领一本员工手册", "en": "Ask HR for a copy of the staff handbook"},
        "counselling_service": {"zh": "怎么预约心理咨询，请问人事部", "en": "Ask HR how to book counselling"},
    }
    return {"main": SiteSection(name={"zh": "本厂", "en": "this factory"}, facts=facts)}


class Config(_Section):
    bot: BotSection = Field(default_factory=BotSection)
    storage: StorageSection = Field(default_factory=StorageSection)
    default_site: Annotated[str, Field(pattern=SITE_ID_PATTERN)] = "main"
    sites: dict[Annotated[str, Field(pattern=SITE_ID_PATTERN)], SiteSection] = Field(default_factory=_default_sites)
    telegram: TelegramSection = Field(default_factory=TelegramSection)
    wechat: WechatSection = Field(default_factory=WechatSection)
    web: WebSection = Field(default_factory=WebSection)
    hr: HrSection = Field(default_factory=HrSection)
    reminders: RemindersSection = Field(default_factory=RemindersSection)

    @model_validator(mode="after")
    def _default_site_exists(self) -> Config:
        if self.default_site not in self.sites:
            known = ", ".join(sorted(self.sites)) or "none"
            raise ValueError(f"default_site {self.default_site!r} is not one of [sites.*] ({known})")
        return self

    @model_validator(mode="after")
    def _robots_exist(self) -> Config:
        """A ``wecom:<name>`` chat must name a site with a robot webhook, or its alerts would wait forever."""
        robots = {site_id for site_id, site in self.sites.items() if site.wecom_webhook_url}
        listed = [
            (f"sites.{site_id}.{key}", chat)
            for site_id, site in self.sites.items()
            for key in ("hr_chats", "board_chats")
            for chat in getattr(site, key)
        ]
        listed += [("bot.admin_chats", chat) for chat in self.bot.admin_chats]
        for where, chat in listed:
            kind, _, name = chat.partition(":")
            if kind == "wecom" and name not in robots:
                raise ValueError(
                    f"{where}: {chat!r} names no site with a WeCom robot; give [sites.{name}] a wecom_webhook_url "
                    f"(or set HAPBOT_SITES__{name}__WECOM_WEBHOOK_URL), or fix the name"
                )
        return self

    @model_validator(mode="after")
    def _deadlines_agree(self) -> Config:
        """Each site's deadlines, its own keys over [hr.deadlines], must be in order."""
        for site_id in self.sites:
            problem = deadline_problem(self.deadlines_for(site_id))
            if problem:
                raise ValueError(f"sites.{site_id}.deadlines (with hr.deadlines): {problem}")
        return self

    def deadlines_for(self, site_id: str) -> CaseDeadlines:
        """The site's deadlines: its own keys, else [hr.deadlines]."""
        site = self.sites.get(site_id)
        return merged_deadlines(self.hr.deadlines, site.deadlines if site else SiteDeadlines(), self.bot.time_zone)

    @property
    def storage_url(self) -> str:
        return self.storage.resolved_url(self.bot.data_dir)


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Overlay ``HAPBOT_SECTION_KEY`` (or ``HAPBOT_A__B__C`` for nested keys) onto the TOML data."""
    sections = set(Config.model_fields)
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name in RESERVED_ENV:
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(f"{name}: not valid UTF-8 text; set the variable again") from None
        rest = name[len(ENV_PREFIX) :]
        if "__" in rest:
            path = [part.lower() for part in rest.split("__")]
        else:
            head, _, tail = rest.lower().partition("_")
            path = [head, tail] if head in sections and tail else [rest.lower()]
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{name}: config key {'.'.join(path[:-1])} is not a table")
        node[path[-1]] = value
    return raw


def _describe(error: Mapping[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key; check its spelling against config.example.toml or remove it"
    elif error["type"] == "missing":
        message = "required; add it (see config.example.toml)"
    return f"{location}: {message}" if location else message


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML file as data, or one ConfigError line that says what is wrong with it."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; copy config.example.toml to {path} and edit it") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file; give the path of the .toml file") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}); check the path, its owner and mode") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES // 1024} KB, not a config file; check the path")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8; save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}; fix the TOML syntax there") from None
    except RecursionError:
        raise ConfigError(f"{path}: values nested too deep to read; a config needs a few levels at most") from None
    except ValueError:  # a number past Python's digit limit
        raise ConfigError(f"{path}: a number too long to read; fix the TOML value") from None


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Read, overlay environment overrides and validate; with no file the defaults serve a newcomer."""
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    source = str(path) if path else "defaults"
    if path is not None:
        raw = _read_toml(path)
    if "sites" not in raw:
        # Environment overrides of a site refine the default site rather than replace it.
        raw["sites"] = {k: v.model_dump(mode="python") for k, v in _default_sites().items()}
    raw = _apply_env(raw, env)
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        problems = "\n".join(f"  {source}: {_describe(e)}" for e in error.errors())
        raise ConfigError(f"invalid configuration:\n{problems}") from None


def find_config_path(explicit: str | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The config file to read: the option, then HAPBOT_CONFIG, then ./config.toml when it exists."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("HAPBOT_CONFIG"):
        return Path(env["HAPBOT_CONFIG"])
    default = Path("config.toml")
    return default if default.exists() else None
