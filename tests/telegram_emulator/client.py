"""How tests hold an emulator: in this process (`TelegramEmulator`) or in another (`RemoteEmulator`).

Both expose the same typed control methods; the in-process one runs them on the
emulator's loop thread, the remote one POSTs them to `/_emu/<name>`. A durability
test starts `EmulatorProcess` so it can kill the bot's process while Telegram
(with its unconfirmed updates) lives on.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from .server import EmulatorServer
from .state import DEFAULT_TOKEN, Clock, EmulatorState

JSON = dict[str, Any]
_REPO_ROOT = Path(__file__).resolve().parents[2]


class ControlSurface:
    """The control API; subclasses say how a control call reaches the emulator."""

    url: str
    token: str

    def _control(self, name: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        """For `telegram.Bot(base_url=...)` and `ApplicationBuilder().base_url(...)`."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def make_bot(self, **kwargs: Any) -> Any:
        """A real `telegram.Bot` pointed at this emulator."""
        import telegram

        return telegram.Bot(self.token, base_url=self.base_url, base_file_url=self.base_file_url, **kwargs)

    def bot_info(self) -> JSON:
        return dict(self._control("bot_info"))

    def create_user(
        self,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> JSON:
        return dict(
            self._control(
                "create_user",
                first_name=first_name,
                last_name=last_name,
                username=username,
                language_code=language_code,
            )
        )

    def create_started_users(
        self, count: int, first_name: str = "Worker", language_code: str | None = "zh"
    ) -> list[int]:
        return [int(user_id) for user_id in self._control(
            "create_started_users", count=count, first_name=first_name, language_code=language_code
        )]

    def create_group(
        self,
        title: str,
        member_ids: list[int] | None = None,
        supergroup: bool = False,
        username: str | None = None,
        bot_is_admin: bool = False,
    ) -> JSON:
        return dict(
            self._control(
                "create_group",
                title=title,
                member_ids=member_ids,
                supergroup=supergroup,
                username=username,
                bot_is_admin=bot_is_admin,
            )
        )

    def add_member(self, chat_id: int, user_id: int) -> JSON:
        return dict(self._control("add_member", chat_id=chat_id, user_id=user_id))

    def set_bot_admin(self, chat_id: int, admin: bool = True) -> JSON:
        return dict(self._control("set_bot_admin", chat_id=chat_id, admin=admin))

    def send_text(self, user_id: int, text: str, chat_id: int | None = None) -> JSON:
        return dict(self._control("send_text", user_id=user_id, text=text, chat_id=chat_id))

    def send_photo(self, user_id: int, data: bytes, chat_id: int | None = None, caption: str | None = None) -> JSON:
        return dict(
            self._control(
                "send_photo",
                user_id=user_id,
                data_base64=base64.b64encode(data).decode(),
                chat_id=chat_id,
                caption=caption,
            )
        )

    def send_document(
        self,
        user_id: int,
        data: bytes,
        file_name: str,
        mime_type: str | None = None,
        chat_id: int | None = None,
        caption: str | None = None,
    ) -> JSON:
        return dict(
            self._control(
                "send_document",
                user_id=user_id,
                data_base64=base64.b64encode(data).decode(),
                file_name=file_name,
                mime_type=mime_type,
                chat_id=chat_id,
                caption=caption,
            )
        )

    def tap_button(
        self,
        user_id: int,
        chat_id: int | None = None,
        message_id: int | None = None,
        data: str | None = None,
        text: str | None = None,
        inline_message_id: str | None = None,
    ) -> JSON:
        return dict(
            self._control(
                "tap_button",
                user_id=user_id,
                chat_id=chat_id,
                message_id=message_id,
                data=data,
                text=text,
                inline_message_id=inline_message_id,
            )
        )

    def add_inline_message(self, text: str, reply_markup: JSON | None = None) -> JSON:
        return dict(self._control("add_inline_message", text=text, reply_markup=reply_markup))

    def inline_message(self, inline_message_id: str) -> JSON:
        return dict(self._control("inline_message", inline_message_id=inline_message_id))

    def block_bot(self, user_id: int) -> JSON:
        return dict(self._control("block_bot", user_id=user_id))

    def migrate_group(self, chat_id: int) -> JSON:
        return dict(self._control("migrate_group", chat_id=chat_id))

    def redeliver(self, update_id: int) -> JSON:
        return dict(self._control("redeliver", update_id=update_id))

    def inject_error(
        self,
        error_code: int,
        description: str,
        parameters: JSON | None = None,
        method: str | None = None,
        chat_id: int | None = None,
        times: int | None = 1,
    ) -> JSON:
        return dict(
            self._control(
                "inject_error",
                error_code=error_code,
                description=description,
                parameters=parameters,
                method=method,
                chat_id=chat_id,
                times=times,
            )
        )

    def inject_retry_after(
        self, retry_after: int, method: str | None = None, chat_id: int | None = None, times: int | None = 1
    ) -> JSON:
        return dict(
            self._control("inject_retry_after", retry_after=retry_after, method=method, chat_id=chat_id, times=times)
        )

    def enforce_flood_limits(
        self,
        enabled: bool = True,
        per_chat: tuple[int, float] = (1, 1.0),
        per_group: tuple[int, float] = (20, 60.0),
        overall: tuple[int, float] = (30, 1.0),
    ) -> bool:
        return bool(
            self._control(
                "enforce_flood_limits", enabled=enabled, per_chat=per_chat, per_group=per_group, overall=overall
            )
        )

    def clear_faults(self) -> int:
        return int(self._control("clear_faults"))

    def calls(self, method: str | None = None) -> list[JSON]:
        return list(self._control("calls", method=method))

    def clear_calls(self) -> int:
        return int(self._control("clear_calls"))

    def visible_messages(self, chat_id: int) -> list[JSON]:
        return list(self._control("visible_messages", chat_id=chat_id))

    def callback_answers(self) -> list[JSON]:
        return list(self._control("callback_answers"))

    def pending_updates(self) -> list[JSON]:
        return list(self._control("pending_updates"))

    def webhook_deliveries(self) -> list[JSON]:
        return list(self._control("webhook_deliveries"))

    def now(self) -> float:
        return float(self._control("now"))

    def advance_clock(self, seconds: float) -> float:
        return float(self._control("advance_clock", seconds=seconds))

    def set_clock(self, unix_seconds: float) -> float:
        return float(self._control("set_clock", unix_seconds=unix_seconds))


class TelegramEmulator(ControlSurface):
    """An emulator served from a daemon thread of the test process; use as a context manager."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        clock: Clock | None = None,
        *,
        webhook_retry_delay: float = 0.05,
        webhook_max_retry_delay: float = 1.0,
        bot_username: str = "hap_emulated_bot",
    ) -> None:
        self.token = token
        self._state = EmulatorState(token, clock, bot_username=bot_username)
        self._server = EmulatorServer(
            self._state,
            webhook_retry_delay=webhook_retry_delay,
            webhook_max_retry_delay=webhook_max_retry_delay,
        )
        self.url = self._server.url
        self._server.start_in_thread()

    def _control(self, name: str, **kwargs: Any) -> Any:
        result = self._server.run_in_loop(getattr(self._server.controls, name), **kwargs)
        return json.loads(json.dumps(result))

    def close(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


class RemoteEmulator(ControlSurface):
    """Controls for an emulator in another process, over its `/_emu/<name>` endpoints."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=10, trust_env=False)
        self.token = token or str(self.bot_info()["token"])

    def _control(self, name: str, **kwargs: Any) -> Any:
        response = self._http.post(f"{self.url}/_emu/{name}", json=kwargs)
        body = response.json()
        if response.status_code != 200:
            raise RuntimeError(f"emulator control {name} failed: {body.get('error')}")
        return body["result"]

    def close(self) -> None:
        self._http.close()


class EmulatorProcess:
    """`python -m tests.telegram_emulator` in a child process, with a RemoteEmulator to drive it."""

    def __init__(
        self,
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        webhook_retry_delay: float = 0.05,
        webhook_max_retry_delay: float = 1.0,
    ) -> None:
        command = [
            sys.executable,
            "-m",
            "tests.telegram_emulator",
            "--port",
            str(port),
            "--token",
            token,
            "--webhook-retry-delay",
            str(webhook_retry_delay),
            "--webhook-max-retry-delay",
            str(webhook_max_retry_delay),
        ]
        self.process = subprocess.Popen(
            command,
            cwd=_REPO_ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("TELEGRAM_EMULATOR_URL="):
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"the emulator process did not start: {line!r}")
        self.url = line.split("=", 1)[1]
        self.emulator = RemoteEmulator(self.url, token)

    def close(self) -> None:
        """Stop the child with SIGTERM (graceful), then SIGKILL if it lingers."""
        self.emulator.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
