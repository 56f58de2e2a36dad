"""``hapbot remind``: add an announcement in both languages, preview who it reaches on each channel
and how long it takes, run it now (or only try), pause and resume it, and list counts — numbers,
never who. The rule language and the config checks behind the schedules."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import remind
from bot.config import ConfigError, load_config
from bot.core import Core, build_core
from handlers.events import Channel
from handlers.reminder_rules import RuleError, parse_quiet, parse_rule
from storage.crypto import KeyRing

from .conftest import Clock
from .reminders_kit import ChatWorker, jobs_for, reminder_config


def command(*words: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    remind.add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(["remind", *words])


async def hapbot_remind(runtime: Core, keyring: KeyRing, *words: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await remind.run(runtime.config, command(*words), out, keyring=keyring, clock=runtime.services.clock)
    return code, out.getvalue()


async def test_add_preview_run_pause_and_list(database_url: str, tmp_path: Path, keyring: KeyRing) -> None:
    clock = Clock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    config = reminder_config(database_url, tmp_path / "data", onboarding={"enabled": False})
    runtime = await build_core(config, keyring=keyring, clock=clock)
    try:
        for chat in ("8001", "8002", "8003"):
            await ChatWorker(runtime, chat).subscribe()
        await ChatWorker(runtime, "o-mei", Channel.WECHAT).subscribe()
        await ChatWorker(runtime, "o-lan", Channel.WECHAT).subscribe()
        clock.advance(hours=49)  # WeChat's 48 hours are over: their reminders wait for the next message

        code, out = await hapbot_remind(
            runtime, keyring, "add", "fire-drill", "--site", "main", "--zh", "周五消防演练",
            "--en", "Fire drill on Friday", "--at", "2026-03-06 09:00", "--quiz", "evacuation",
        )
        assert code == 0 and "fire-drill:main: due 2026-03-06 09:00" in out
        again = ("--site", "main", "--zh", "x", "--en", "y")
        code, out = await hapbot_remind(runtime, keyring, "add", "fire-drill", *again)
        assert code == 2 and "exists already" in out
        code, out = await hapbot_remind(runtime, keyring, "add", "training", *again)
        assert code == 2, "schedule names are reserved"

        code, out = await hapbot_remind(runtime, keyring, "preview", "fire-drill")
        assert code == 0, out
        assert "fire-drill:main: 5 workers" in out
        assert "telegram        3  pushed" in out and "wechat          2  wait for their next message" in out
        assert "Telegram pushes take about 0 s at 30 messages a second" in out

        code, out = await hapbot_remind(runtime, keyring, "run", "fire-drill", "--dry-run")
        assert code == 0 and "due now" not in out
        jobs = jobs_for(runtime)
        await jobs.tick()
        assert jobs.sinks["telegram"].sent == [], "a dry run changes nothing"

        code, out = await hapbot_remind(runtime, keyring, "pause", "fire-drill")
        assert "paused" in out
        code, out = await hapbot_remind(runtime, keyring, "run", "fire-drill")
        assert "due now" in out
        await jobs.tick()
        assert jobs.sinks["telegram"].sent == [], "paused"
        code, out = await hapbot_remind(runtime, keyring, "list")
        assert "paused: fire-drill" in out
        await hapbot_remind(runtime, keyring, "resume", "fire-drill")
        clock.advance(seconds=31)
        await jobs.tick()
        pushed = jobs.sinks["telegram"].sent
        assert len(pushed) == 3
        assert all("Fire drill on Friday" in text and "Send 测验 (quiz)" in text for _, text in pushed)

        await ChatWorker(runtime, "o-mei", Channel.WECHAT).send("你好")  # sees the held reminder
        code, out = await hapbot_remind(runtime, keyring, "list")
        line = next(line for line in out.splitlines() if "fire-drill:main" in line)
        assert "planned 5  sent 3  in doubt 0  waiting 1  shown later 1" in line
        assert "8001" not in out and "o-mei" not in out, "counts, never who"
    finally:
        await runtime.close()


def test_rules_name_days_of_the_year() -> None:
    assert list(parse_rule("first wednesday of march, september").dates(date(2026, 1, 1), date(2026, 12, 31))) == [
        date(2026, 3, 4), date(2026, 9, 2)
    ]
    assert list(parse_rule("Last Fri of every month").dates(date(2026, 1, 1), date(2026, 3, 31))) == [
        date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)
    ]
    assert list(parse_rule("day 15 of jan and jul").dates(date(2026, 1, 1), date(2026, 12, 31))) == [
        date(2026, 1, 15), date(2026, 7, 15)
    ]
    for bad in ("every wednesday", "fifth monday of march", "day 31 of every month", "first funday of march"):
        with pytest.raises(RuleError):
            parse_rule(bad)


def test_quiet_hours_cross_midnight() -> None:
    quiet = parse_quiet("22:00-07:00")
    tz = datetime(2026, 3, 2, tzinfo=UTC).tzinfo
    assert quiet.next_allowed(datetime(2026, 3, 2, 23, 0, tzinfo=tz)) == datetime(2026, 3, 3, 7, 0, tzinfo=tz)
    assert quiet.next_allowed(datetime(2026, 3, 3, 6, 59, tzinfo=tz)) == datetime(2026, 3, 3, 7, 0, tzinfo=tz)
    assert quiet.next_allowed(datetime(2026, 3, 3, 7, 0, tzinfo=tz)) == datetime(2026, 3, 3, 7, 0, tzinfo=tz)
    assert str(parse_quiet("21-8")) == "21:00-08:00" and parse_quiet("off").off
    with pytest.raises(RuleError):
        parse_quiet("late")


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        ('[sites.main.reminders]\ntime_zone = "Mars/Olympus"', "not a time zone name"),
        ('[sites.main.reminders]\nquiet_hours = "after dark"', "quiet hours"),
        ('[sites.main.reminders.training]\nrule = "every wednesday"', "write a rule like"),
        ("[sites.main.reminders.training]\nat = \"14:00\"", "give dates"),
        ('[sites.main.reminders.training]\ndates = [2026-03-04]\nat = "25:00"', "not a time of day"),
        ('[sites.main.reminders.training]\ndates = [2026-03-04]\nremind_days_before = 0\nsend_at = "15:00"',
         "before at"),
    ],
)
def test_bad_schedules_stop_the_start_naming_the_key(tmp_path: Path, toml: str, problem: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[sites.main]\nname = "Factory"\n{toml}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=problem) as error:
        load_config(path, {})
    assert "sites.main.reminders" in str(error.value)
