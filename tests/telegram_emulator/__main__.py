"""Run the emulator as its own process: `python -m tests.telegram_emulator --port N`.

Prints `TELEGRAM_EMULATOR_URL=http://127.0.0.1:PORT` once it accepts requests,
so a parent process (see `EmulatorProcess`) can read where it listens.
"""

from __future__ import annotations

import argparse

from .server import EmulatorServer
from .state import DEFAULT_TOKEN, EmulatorState


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator for tests (loopback only)")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="the one bot token the emulator accepts")
    parser.add_argument("--bot-username", default="hap_emulated_bot")
    parser.add_argument(
        "--webhook-max-retry-delay", type=float, default=30.0, help="longest delay between webhook retries"
    )
    parser.add_argument(
        "--webhook-retry-delay",
        type=float,
        default=0.5,
        help="first delay before re-sending a failed webhook delivery, doubling each time",
    )
    args = parser.parse_args(argv)
    server = EmulatorServer(
        EmulatorState(args.token, bot_username=args.bot_username),
        port=args.port,
        webhook_retry_delay=args.webhook_retry_delay,
        webhook_max_retry_delay=args.webhook_max_retry_delay,
        on_ready=lambda url: print(f"TELEGRAM_EMULATOR_URL={url}", flush=True),
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
