"""The real console script in a subprocess: ``python -m bot chat --json`` and ``python -m bot check-config``.

Each process runs with ``cwd=tmp_path`` so the development keys and any data land there.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from .flows import receipt_in, reference_in, report_script

REPO = Path(__file__).resolve().parents[1]
STORY = ["My line leader keeps making dirty jokes about me", "昨天他还把手放在我腰上"]


def environment(storage_url: str | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAPBOT_")}
    env["PYTHONPATH"] = str(REPO)
    if storage_url is not None:
        env["HAPBOT_STORAGE_URL"] = storage_url
    return env


async def hapbot(args: list[str], cwd: Path, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode("utf-8"), err.decode("utf-8", errors="replace")


def json_lines(lines: list[object]) -> bytes:
    return b"".join(json.dumps(line, ensure_ascii=False).encode("utf-8") + b"\n" for line in lines)


def parse_stdout(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line is one reply object with exactly the documented keys."""
    replies = []
    for number, line in enumerate(stdout.splitlines(), start=1):
        try:
            reply = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"stdout line {number} is not JSON: {line[:200]!r}") from None
        assert isinstance(reply, dict), f"stdout line {number} is not an object"
        assert set(reply) in ({"text", "choices"}, {"text", "choices", "error"}), f"line {number}: keys {sorted(reply)}"
        assert isinstance(reply["text"], str)
        assert all(isinstance(c, dict) and set(c) == {"id", "label"} for c in reply["choices"]), f"line {number}"
        replies.append(reply)
    return replies


async def test_json_chat_prints_only_reply_lines_and_warns_on_stderr(tmp_path: Path) -> None:
    database = tmp_path / "chat.sqlite3"
    stdin = b"".join(
        [
            json_lines([{"text": "/start"}]),
            b"this is not json\n",
            b'{"text": "\xff\xfe"}\n',
            json_lines([{"choice": "report"}, {"choice": "agree"}, {"text": "他总是在没人的时候说下流的话"}]),
        ]
    )
    code, stdout, stderr = await hapbot(
        ["chat", "--json", "--lang", "en"], tmp_path, environment(f"sqlite+aiosqlite:///{database}"), stdin
    )
    assert code == 0, stderr[-2000:]
    replies = parse_stdout(stdout)
    assert [r.get("error") for r in replies if "error" in r] == ["invalid_json", "invalid_utf8"]
    welcome = ["report", "status", "faq", "quiz", "remind_on", "language", "help"]
    assert [c["id"] for c in replies[1]["choices"]] == welcome
    assert replies[-1]["text"].startswith("Saved (1 messages)"), "the session did not go on after the bad lines"
    assert "DEVELOPMENT KEYS" in stderr, "the development-key warning must go to stderr"
    assert "DEVELOPMENT" not in stdout and "WARNING" not in stdout
    assert any((tmp_path / "data" / "keys").iterdir()), "development keys were not created under ./data/keys"
    assert database.is_file(), "HAPBOT_STORAGE_URL was not used"
    assert not (tmp_path / "data" / "hapbot.sqlite3").exists(), "the default database was created anyway"


async def test_report_in_one_process_then_status_in_another_with_the_printed_receipt(
    tmp_path: Path, database_url: str
) -> None:
    env = environment(database_url)
    report = json_lines([{"text": "/start"}, *report_script(STORY)])
    code, stdout, stderr = await hapbot(["chat", "--json", "--lang", "en"], tmp_path, env, report)
    assert code == 0, stderr[-2000:]
    replies = parse_stdout(stdout)
    assert not any("error" in r for r in replies)
    shown = "\n".join(r["text"] for r in replies)
    receipt = receipt_in(shown)
    reference = reference_in(shown)
    assert receipt not in stderr and STORY[0] not in stderr, "stderr carried the receipt or the report"

    lookup = json_lines([{"choice": "status"}, {"text": receipt.lower().replace("-", " ")}])
    code, stdout, stderr = await hapbot(
        ["chat", "--json", "--lang", "en", "--user", "someone-else"], tmp_path, env, lookup
    )
    assert code == 0, stderr[-2000:]
    status = parse_stdout(stdout)
    assert reference in status[-1]["text"], f"the case was not found: {status[-1]['text']!r}"
    assert "Received, waiting for HR" in status[-1]["text"]
    assert {c["id"] for c in status[-1]["choices"]} == {"add_info", "withdraw", "menu"}
    assert all(line not in stdout for line in STORY), "the status lookup echoed the report"


async def test_check_config_with_a_broken_file_exits_2_and_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[bot]\ndefault_language = "en"\nlangauge = "zh"\n\n[sites.main]\nname = "Factory One"\n'
        'emergency_phone = "call the guard"\n',
        encoding="utf-8",
    )
    code, stdout, stderr = await hapbot(["check-config"], tmp_path, environment(None))
    assert code == 2
    assert stdout == ""
    assert "bot.langauge" in stderr and "sites.main.emergency_phone" in stderr
    assert "config.toml" in stderr
    assert "Traceback" not in stderr

    broken = tmp_path / "elsewhere.toml"
    broken.write_text("[telegram]\nenabled = true\n", encoding="utf-8")
    code, stdout, stderr = await hapbot(["--config", str(broken), "check-config"], tmp_path, environment(None))
    assert code == 2 and stdout == ""
    assert str(broken) in stderr and "token" in stderr and "Traceback" not in stderr


GOOD_SITE = """[sites.main]
name = { zh = "一号厂", en = "Factory One" }
[sites.main.facts]
hr_contact = "HR office, building 2"
advocacy_board = "the advocacy board, room 101"
training_schedule = "March and September"
handbook_location = "the staff handbook"
counselling_service = "the counselling room"
"""


async def test_check_config_with_a_good_file_exits_0_silently(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(GOOD_SITE, encoding="utf-8")
    code, stdout, stderr = await hapbot(["check-config"], tmp_path, environment(None))
    assert (code, stdout) == (0, ""), stderr[-2000:]
    assert not (tmp_path / "data").exists(), "check-config must not create data or keys"


async def test_check_config_and_run_agree_on_broken_configurations(tmp_path: Path) -> None:
    """What stops ``run`` stops ``check-config`` first, with the same one line and exit code."""
    robot = GOOD_SITE.replace("[sites.main.facts]", 'hr_chats = ["wecom:north"]\n[sites.main.facts]')
    cases = {
        "missing facts": ('[sites.main]\nname = "Factory One"\n', "sites.main.facts: missing advocacy_board"),
        "robot of an unknown site": (robot, "sites.main.hr_chats: 'wecom:north' names no site with a WeCom robot"),
        "wrong type": (GOOD_SITE + '[web]\nport = "eighty"\n', "web.port"),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / "config.toml").write_text(text, encoding="utf-8")
        checked = await hapbot(["check-config"], tmp_path, environment(None))
        ran = await hapbot(["run"], tmp_path, environment(None))
        assert checked[0] == ran[0] == 2, (name, checked, ran)
        assert checked[1] == ran[1] == "", name
        assert expected in checked[2], (name, checked[2])
        assert checked[2].strip().splitlines()[-1] == ran[2].strip().splitlines()[-1], name
        assert "Traceback" not in checked[2] + ran[2], name
    assert not (tmp_path / "data").exists(), "a refused start creates no data or keys"
