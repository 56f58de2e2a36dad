"""HR desk latency: the first page of the case list and opening a case, over HTTP, with 10,000 cases.

The server is the bot's web app with the desk mounted, under uvicorn, in its own process. It first
creates ``--cases`` cases through the project's own code (``CaseRepository.create`` with the list
tags, ``EvidenceRepository`` for a picture on every tenth case): three sites, one case in ten about
a supervisor (the board's), categories and urgencies at random. On PostgreSQL the table is then
vacuumed and analysed, as autovacuum does to a store in service. Receipts are hashed with weak
argon2id parameters here (as in the tests): production's ~0.15 s per receipt would make setting up
10,000 cases take half an hour and is not what this measures.

Who is signed in is a fixed handler of one site (about 3,000 of the cases are theirs), put on the
request by a bench-only middleware standing in for the desk's sign-in. The client sends one request
at a time on a kept-alive connection; ``/fixed`` (a small fixed page on the same server) is the
baseline. Every list and every opening is a write transaction (its audit entry; the first opening of
a case also marks it acknowledged).

Prints p50/p99 of ``--samples`` requests each (aim: p99 under 50 ms for both), and the server's CPU
time per request (from /proc), which a busy machine inflates far less than the latencies.

Usage: python bench/hr_desk.py [--cases 10000] [--samples 1000] [--database postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import argon2
import httpx
from PIL import Image
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.channels.images import sanitise_image
from bot.config import Config
from bot.core import build_core
from bot.web.app import build_web_app
from bot.web.desk.pages import build_desk_pages, desk_routes
from bot.web.server import serving
from handlers.report import alert_audience
from storage.case_index import Audience
from storage.crypto import KeyRing
from storage.people import Person, Role
from storage.receipts import MemoryBudget, ReceiptHasher

SITES = {
    "main": {"name": {"zh": "一号厂", "en": "Factory One"}},
    "north": {"name": {"zh": "北厂", "en": "North Plant"}},
    "south": {"name": {"zh": "南厂", "en": "South Plant"}},
}
HANDLER = Person("bench-handler", "Bench", Role.HANDLER, frozenset({"main"}))
CATEGORIES = ("verbal", "physical", "messages", "quid_pro_quo", "other")
URGENCIES = ("danger_now", "soon", "normal", "normal", "normal")
BATCH = 500
BLOCK = 100


class BenchReceiptHasher(ReceiptHasher):
    """Weak argon2id parameters for setting up many cases quickly (never for production)."""

    def __init__(self) -> None:
        # ReceiptHasher refuses parameters this weak, rightly, so the bench sets them itself.
        self._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        self.budget = MemoryBudget(64 * 1024)


class BenchIdentity:
    """Bench only: every request is the bench handler's (the desk's sign-in does this in production)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {}).update(person=HANDLER, csrf_token="bench")
        await self.app(scope, receive, send)


def evidence_picture() -> bytes:
    """A photo as the channels store one: sanitised by the project's own image code."""
    out = io.BytesIO()
    Image.effect_noise((640, 480), 40).convert("RGB").save(out, "PNG")
    return sanitise_image(out.getvalue()).data


def report_for(rng: random.Random, number: int) -> dict[str, object]:
    return {
        "version": 1,
        "language": "zh",
        "consent": "agree",
        "what": [f"bench report {number}: " + "他总是在夜班的时候说些下流的话。" * 3],
        "category": rng.choice(CATEGORIES),
        "when": "this_week",
        "where": "workshop",
        "involved": "supervisor" if number % 10 == 0 else "coworker",
        "witnesses": None,
        "urgency": rng.choice(URGENCIES),
        "notify": False,
        "attachments": [],
    }


async def serve(url: str, directory: str, cases: int) -> None:
    """The server process: creates the cases, then serves the desk and the baseline page."""
    config = Config.model_validate({"storage": {"url": url}, "bot": {"data_dir": directory}, "sites": SITES,
                                    "default_site": "main"})
    runtime = await build_core(config, keyring=KeyRing.generate(), hasher=BenchReceiptHasher())
    services = runtime.services
    rng = random.Random(2026)
    started = time.perf_counter()
    mine: list[str] = []
    now = services.clock()
    picture_bytes = evidence_picture()
    for first in range(0, cases, BATCH):
        numbers = range(first, min(cases, first + BATCH))
        receipts = [await services.cases.issue_receipt() for _ in numbers]  # hashed before the transaction
        async with runtime.database.transaction() as session:
            for number, receipt in zip(numbers, receipts, strict=True):
                site = rng.choice(tuple(SITES))
                report = report_for(rng, number)
                audience = Audience(alert_audience(report))
                case = await services.cases.create(
                    session, site=site, report=report, contact=None, receipt=receipt, now=now, audience=audience,
                )
                if number % 10 == 5:
                    draft = await services.evidence.store_draft_file(session, picture_bytes, "image/jpeg", 10**9)
                    await services.evidence.adopt(session, case.id, [draft], now)
                if site == "main" and audience is Audience.HR:
                    mine.append(case.reference)
    if runtime.database.dialect == "postgresql":
        # What autovacuum does to a store in service: a visibility map (index-only scans without heap
        # fetches) and statistics. A freshly bulk-loaded table has neither for a while.
        async with runtime.database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE cases"))
    setup = time.perf_counter() - started
    (Path(directory) / "mine.txt").write_text("\n".join(mine))

    async def fixed(_request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>fixed</title><p>fixed</p>")

    # The pages behind the bench's identity instead of the desk's gate (sign-in is not measured here).
    pages = Mount("/desk", app=Starlette(routes=desk_routes(build_desk_pages(runtime)),
                                         middleware=[Middleware(BenchIdentity)]))
    app = build_web_app([pages, Route("/fixed", fixed)])
    async with serving(app, "127.0.0.1", 0) as port:
        print(f"READY {port} {runtime.database.dialect} {setup:.1f}", flush=True)
        await asyncio.Event().wait()


def cpu_seconds(pid: int | None) -> float:
    """User plus system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    mean = statistics.fmean(ordered) * 1000
    return f"p50 {p50:6.1f} ms   p99 {p99:6.1f} ms   mean {mean:6.1f} ms  (n={len(ordered)})"


async def timed(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    response = await client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}")
    return elapsed


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = args.database or f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}"
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve", "--database", url, "--directory", directory,
            "--cases", str(args.cases), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
        assert server.stdout is not None
        try:
            line = (await asyncio.wait_for(server.stdout.readline(), 1800)).decode().split()
            if not line or line[0] != "READY":
                raise SystemExit("the server did not start")
            port, dialect, setup = int(line[1]), line[2], float(line[3])
            mine = (Path(directory) / "mine.txt").read_text().split()
            rng = random.Random(7)
            samples: dict[str, list[float]] = {"fixed": [], "list": [], "open": []}
            cpu: dict[str, float] = {"fixed": 0.0, "list": 0.0, "open": 0.0}
            paths = {
                "fixed": lambda: "/fixed",
                "list": lambda: "/desk/cases",
                "open": lambda: f"/desk/cases/{rng.choice(mine)}",
            }
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                for _ in range(20):  # warm-up: connections, template compilation, caches
                    for path in paths.values():
                        await timed(client, path())
                # Blocks of BLOCK requests, the three kinds in turn, so all see the same machine load;
                # the server's CPU time per block says what a request costs whatever the load.
                for _ in range(max(1, args.samples // BLOCK)):
                    for kind, path in paths.items():
                        before = cpu_seconds(server.pid)
                        for _ in range(BLOCK):
                            samples[kind].append(await timed(client, path()))
                        cpu[kind] += cpu_seconds(server.pid) - before
        finally:
            server.kill()
            await server.wait()
    print(f"{args.cases} cases on {dialect} (set up in {setup:.0f} s); the handler's site holds {len(mine)} of them")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}   cores: {os.cpu_count()}")
    labels = {"fixed": "baseline /fixed page:", "list": "list, first page (25 cases):", "open": "open a case:"}
    for kind, label in labels.items():
        label = label.ljust(28)
        per_request = cpu[kind] / len(samples[kind]) * 1000
        print(f"{label} {percentiles(samples[kind])}   server CPU {per_request:5.1f} ms/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--database", help="a postgresql+asyncpg:// URL (an empty database) instead of SQLite")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve(arguments.database, arguments.directory, arguments.cases))
    else:
        asyncio.run(main(arguments))
