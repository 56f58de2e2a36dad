"""A local Telegram Bot API emulator that the real python-telegram-bot stack talks to over HTTP.

Start one in a test with `TelegramEmulator()` (a context manager), point PTB at
`emu.base_url` / `emu.base_file_url`, and drive the emulated people with the
control methods (`create_user`, `send_text`, `tap_button`, `inject_retry_after`,
...). `EmulatorProcess` runs the same server in a child process.
"""

from .client import ControlSurface, EmulatorProcess, RemoteEmulator, TelegramEmulator
from .errors import ApiError
from .state import DEFAULT_TOKEN, EmulatorClock

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "ControlSurface",
    "EmulatorClock",
    "EmulatorProcess",
    "RemoteEmulator",
    "TelegramEmulator",
]
