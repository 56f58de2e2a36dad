"""The real console script in a subprocess: ``python -m bot chat --json`` and ``python -m bot check-config``.

Each process runs with ``cwd=tmp_path`` so the development keys and any data land there. A test
that starts a chat gives ``./data`` the FAQ cache a first start leaves (conftest's ``seed_faq_cache``).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from .cli_kit import hapbot_in_process
from .conftest import seed_faq_cache
from .flows import receipt_in, reference_in, report_script

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # every test here starts `python -m bot` in a subprocess

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


async def test_json_chat_prints_only_reply_lines_and_warns_on_stderr(tmp_path: Path, warm_faq_cache: Path) -> None:
    database = tmp_path / "chat.sqlite3"
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    stdin = b"".join(
        [
            json_lines([{"text": "/start"}]),
            b"this is not json\n",
            b'{"text": "\xff\xfe"}\n',
            json_lines([{"choice": "report"}, {"choice": "agree"}]),
            b'{"text": "a\\ud800"}\n',  # a lone surrogate at a free-text step used to end the process
            json_lines([{"text": "他总是在没人的时候说下流的话"}]),
        ]
    )
    code, stdout, stderr = await hapbot(
        ["chat", "--json", "--lang", "en"], tmp_path, environment(f"sqlite+aiosqlite:///{database}"), stdin
    )
    assert code == 0, stderr[-2000:]
    replies = parse_stdout(stdout)
    assert [r.get("error") for r in replies if "error" in r] == ["invalid_json", "invalid_utf8", "invalid_utf8"]
    welcome = ["report", "status", "faq", "quiz", "remind_on", "language", "help"]
    assert [c["id"] for c in replies[1]["choices"]] == welcome
    assert replies[-1]["text"].startswith("Saved (1 messages)"), "the session did not go on after the bad lines"
    assert "DEVELOPMENT KEYS" in stderr, "the development-key warning must go to stderr"
    assert "DEVELOPMENT" not in stdout and "WARNING" not in stdout
    assert any((tmp_path / "data" / "keys").iterdir()), "development keys were not created under ./data/keys"
    assert database.is_file(), "HAPBOT_STORAGE_URL was not used"
    assert not (tmp_path / "data" / "hapbot.sqlite3").exists(), "the default database was created anyway"


async def test_report_in_one_process_then_status_in_another_with_the_printed_receipt(
    tmp_path: Path, database_url: str, warm_faq_cache: Path
) -> None:
    env = environment(database_url)
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
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


TELEGRAM = '[telegram]\nenabled = true\ntoken = "123:abc"\n'
WECHAT = '[wechat]\nenabled = true\ntoken = "t"\napp_id = "wx1"\napp_secret = "s"\napi_base_url = "http://127.0.0.1:9"\n'


async def test_check_config_and_run_agree_on_broken_configurations(tmp_path: Path) -> None:
    """What stops ``run`` stops ``check-config`` first, with the same one line and exit code.

    Both run in this process (tests/cli_kit.py), 26 starts that would take 1.5 s each as processes;
    the tests above and below check the same exit code and one line from a real process."""
    robot = GOOD_SITE.replace("[sites.main.facts]", 'hr_chats = ["wecom:north"]\n[sites.main.facts]')
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    cases: dict[str, tuple[str, str]] = {
        "missing facts": ('[sites.main]\nname = "Factory One"\n', "sites.main.facts: missing advocacy_board"),
        "robot of an unknown site": (robot, "sites.main.hr_chats: 'wecom:north' names no site with a WeCom robot"),
        "wrong type": (GOOD_SITE + '[web]\nport = "eighty"\n', "web.port"),
        "config nested too deep": ("x = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deep"),
        "config path is a folder": ("", "a-folder: is a folder"),
        "webhook without https": (
            GOOD_SITE + TELEGRAM + 'mode = "webhook"\nwebhook_url = "http://bot.example.com/telegram"\n'
            'secret_token = "s3cret"\n',
            "telegram: webhook_url: must be a public https:// URL",
        ),
        "EncodingAESKey of the wrong length": (
            GOOD_SITE + WECHAT + 'encoding_aes_key = "abc"\n', "wechat: encoding_aes_key: must be the 43"
        ),
        "malformed storage URL": (
            GOOD_SITE + '[storage]\nurl = "postgresql+asyncpg://u:pw@[::1/db"\n', "storage.url: is not a valid"
        ),
        "unreachable storage": (
            GOOD_SITE + '[storage]\nurl = "postgresql+asyncpg://u@127.0.0.1:1/db"\n',
            "storage.url: cannot open the database (ConnectionRefusedError",
        ),
        "faq_dir missing": (GOOD_SITE + '[bot]\nfaq_dir = "no-such-folder"\n', "bot.faq_dir: no-such-folder"),
        "keys_file is a folder": (
            GOOD_SITE + f'[storage]\nkeys_file = "{tmp_path / "a-folder"}"\n', "a-folder: is a folder, not a key file"
        ),
        "data_dir is a file": (
            GOOD_SITE + f'[bot]\ndata_dir = "{tmp_path / "a-file"}"\n', "bot.data_dir: " + str(tmp_path / "a-file")
        ),
        "Telegram Bot API unreachable": (
            GOOD_SITE + TELEGRAM + 'api_base_url = "http://127.0.0.1:9/bot"\n',
            "telegram: cannot reach the Telegram Bot API",
        ),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / "config.toml").write_text(text, encoding="utf-8")
        options = ["--config", str(tmp_path / "a-folder")] if name == "config path is a folder" else []
        checked = await hapbot_in_process([*options, "check-config"], tmp_path, environment(None))
        ran = await hapbot_in_process([*options, "run"], tmp_path, environment(None))
        assert checked[0] == ran[0] == 2, (name, checked, ran)
        assert checked[1] == ran[1] == "", name
        assert expected in checked[2], (name, checked[2])
        assert checked[2].strip().splitlines()[-1] == ran[2].strip().splitlines()[-1], name
        assert "Traceback" not in checked[2] + ran[2], name
        problems = [line for line in checked[2].strip().splitlines() if not line.endswith("invalid configuration:")]
        assert len(problems) == 1, (name, checked[2])  # one line for the one problem
    assert not (tmp_path / "data").exists(), "a refused start creates no data or keys"


async def test_run_says_in_one_line_when_its_port_is_taken(tmp_path: Path, warm_faq_cache: Path) -> None:
    """The one start-up failure ``check-config`` must not predict: a bot already running holds the port."""
    seed_faq_cache(warm_faq_cache, tmp_path / "data")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "config.toml").write_text(
            GOOD_SITE + WECHAT + f'encoding_aes_key = "{"k" * 43}"\n[web]\nport = {port}\n', encoding="utf-8"
        )
        code, stdout, stderr = await hapbot(["run"], tmp_path, environment(None))
    assert (code, stdout) == (2, ""), stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        f"hapbot: web: cannot listen on 127.0.0.1:{port}; check [web] host and port "
        "(is another program using the port?)"
    )
    assert "Traceback" not in stderr
