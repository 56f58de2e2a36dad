"""How long ``hapbot`` takes to start: ``run`` until ready, and the short commands until they exit.

Starts the real process (``python -m bot run``) with every channel on: Telegram in webhook mode
against the Bot API emulator of the tests (getMe, setMyCommands and setWebhook are answered on
loopback), WeChat with an API base URL nothing answers, SQLite in a temporary directory. Measures
from process start to the first 200 on ``/readyz`` (polled every 10 ms). ``/readyz`` answers 200
once the channels, the web app, the background work and the FAQ index are all up (bot/serve.py). One
untimed start first creates the keys, the schema and the FAQ cache under ``<data_dir>/cache``, as a
deployment's first start would (printed as "first start"). Then ``check-config``, ``keys status``
and ``audit verify`` (a command that opens the store) are timed from process start to exit, and
beside them, in the same run and the same rounds, the baseline: a bare ``python -c 'import
starlette, uvicorn'`` (the least a web process on this machine can take). Prints p50 and p99 over
``--runs`` rounds, the CPU time the bot used until ready, the idle RSS of the bot process (VmRSS,
/proc/<pid>/status), the load average, and the import-time breakdown (``python -X importtime``) of
what ``hapbot run`` imports. On a shared machine, wall time grows with the load; CPU time much less.

Usage: python bench/start_time.py [--runs 10] [--top 15] [--no-compile]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.telegram_emulator import TelegramEmulator  # noqa: E402

IMPORTED_BY_RUN = "import bot.cli, bot.serve, bot.channels.telegram.setup, bot.channels.wechat.setup"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(directory: Path, emu: TelegramEmulator, port: int) -> Path:
    path = directory / "config.toml"
    path.write_text(
        f"""
[bot]
data_dir = "{directory / 'data'}"
[telegram]
enabled = true
mode = "webhook"
token = "{emu.token}"
api_base_url = "{emu.base_url}"
webhook_url = "http://127.0.0.1:{port}/telegram"
secret_token = "bench-secret-token-0123456789"
[wechat]
enabled = true
token = "benchToken2026"
encoding_aes_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
app_id = "wxbench0000000001"
app_secret = "not-a-real-secret"
api_base_url = "http://127.0.0.1:9"
[web]
port = {port}
[hr]
handlers = ["alice"]
""",
        encoding="utf-8",
    )
    return path


async def readyz(port: int, path: str = "/readyz") -> int | None:
    """The status of GET /readyz (or ``path``), or None when nothing answers yet."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        status = await reader.readline()
        return int(status.split()[1]) if status else None
    finally:
        writer.close()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used (less sensitive to other load than wall time)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def one_start(config: Path, port: int, path: str = "/readyz") -> tuple[float, float, float, bool]:
    """(seconds to ready, CPU seconds used by then, idle RSS in MiB, whether a 503 came before the 200)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), "run", cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    seen_starting = False
    try:
        while True:
            status = await readyz(port, path)
            if status == 200:
                elapsed = time.perf_counter() - started
                cpu = cpu_seconds(process.pid)
                break
            seen_starting = seen_starting or status == 503
            if process.returncode is not None:
                assert process.stderr is not None
                raise RuntimeError("hapbot run stopped: " + (await process.stderr.read()).decode()[-2000:])
            if time.perf_counter() - started > 120:
                raise RuntimeError("not ready within 120 s")
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)  # idle: nothing to do but wait
        rss = rss_mib(process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 30)
    return elapsed, cpu, rss, seen_starting


BASELINE = [sys.executable, "-c", "import starlette, uvicorn"]


def short_commands(config: Path) -> dict[str, list[str]]:
    bot = [sys.executable, "-m", "bot", "--config", str(config)]
    keys = config.parent / "data" / "keys" / "keys.json"
    return {
        "baseline: python -c 'import starlette, uvicorn'": BASELINE,
        "hapbot check-config": [*bot, "check-config"],
        "hapbot keys status": [*bot, "keys", "status", "--file", str(keys)],
        "hapbot audit verify": [*bot, "audit", "verify"],
    }


async def one_command(command: list[str]) -> float:
    """Seconds from process start to exit (which must be 0)."""
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )
    _, error = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{command[3:]} failed: {error.decode()[-1000:]}")
    return time.perf_counter() - started


def p50_p99(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[max(0, -(-99 * len(ordered) // 100) - 1)]
    return f"p50 {statistics.median(ordered):5.2f} s  p99 {p99:5.2f} s"


def import_breakdown(top: int) -> list[tuple[float, float, str]]:
    """(cumulative ms, self ms, module) of the slowest imports of `hapbot run`, from -X importtime."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTED_BY_RUN], cwd=ROOT, capture_output=True, text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        own, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        rows.append((int(cumulative) / 1000, int(own) / 1000, name))
    total = sum(own for _, own, _ in rows)
    rows.sort(reverse=True)
    return [(total, total, "(all imports, self time summed)"), *rows[:top]]


def compileall_project() -> None:
    import compileall

    for folder in ("bot", "handlers", "storage", "faq"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


async def main(args: argparse.Namespace) -> None:
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}   cores: {os.cpu_count()}")
    if sys.flags.dont_write_bytecode and not args.no_compile:
        # An installed package has its bytecode (pip compiles it); an editable checkout writes it at
        # the first start, unless PYTHONDONTWRITEBYTECODE forbids it, as this environment may: then
        # every start would compile our 180 modules from source again (about 0.2 s here).
        compileall_project()
        print("PYTHONDONTWRITEBYTECODE is set here: compiled bot/, handlers/, storage/ and faq/ to bytecode once, "
              "as installing the package does (--no-compile measures without)")
    with TelegramEmulator() as emu, tempfile.TemporaryDirectory() as directory:
        port = free_port()
        config = write_config(Path(directory), emu, port)
        first, first_cpu, _, _ = await one_start(config, port, args.path)
        print(f"first start (keys, schema, FAQ cache created): {first:.2f} s to ready, {first_cpu:.2f} s of CPU")
        commands = short_commands(config)
        times, cpus, memory, starting = [], [], [], []
        short: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            elapsed, cpu, rss, seen = await one_start(config, port, args.path)
            times.append(elapsed)
            cpus.append(cpu)
            memory.append(rss)
            starting.append(seen)
            for name, command in commands.items():
                short[name].append(await one_command(command))
    print(f"{args.runs} rounds; each round: one `hapbot run`, then each command below once")
    print(f"  hapbot run, every channel, to the first 200 on {args.path}: {p50_p99(times)}"
          f"   (each: {', '.join(f'{t:.2f}' for t in times)})")
    for name, values in short.items():
        print(f"  {name + ', start to exit:':58s} {p50_p99(values)}")
    print(f"CPU time the bot process used until ready: p50 {statistics.median(cpus):.2f} s, max {max(cpus):.2f} s")
    print(f"/readyz answered 503 before ready in {sum(starting)} of {args.runs} starts")
    print(f"idle RSS of the bot process 1 s after ready: median {statistics.median(memory):.0f} MiB")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"imports of `hapbot run` ({IMPORTED_BY_RUN}), slowest by cumulative time:")
    for cumulative, own, name in import_breakdown(args.top):
        print(f"  {cumulative:8.1f} ms cumulative {own:8.1f} ms self   {name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--no-compile", action="store_true",
                        help="leave the project's bytecode uncompiled when PYTHONDONTWRITEBYTECODE is set")
    parser.add_argument("--path", default="/readyz", help="/healthz measures a version without /readyz")
    asyncio.run(main(parser.parse_args()))
