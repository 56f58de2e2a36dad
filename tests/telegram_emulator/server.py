"""The emulator's HTTP face and the thread or process that serves it.

Routes: `/bot<token>/<method>` (the Bot API), `/file/bot<token>/<file_path>`
(downloads), `/_emu/<control>` (test controls, JSON in and out). The server runs
uvicorn on a loopback socket that is bound before start-up, so port 0 works and
the URL is known at once; in a test it runs on a daemon thread, and
`python -m tests.telegram_emulator` runs it in its own process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import re
import socket
import threading
from collections.abc import AsyncIterator, Callable
from types import FrameType
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import methods, updates  # noqa: F401 - importing registers the Bot API methods
from .api import Described, call_method
from .controls import CONTROL_NAMES, EmulatorControls
from .errors import NOT_FOUND, UNAUTHORIZED, ApiError
from .params import Params, parse_body
from .state import EmulatorState
from .updates import Waker, WebhookSender

T = TypeVar("T")
_TOKEN = re.compile(r"\d+:[A-Za-z0-9_-]+")


class _Uvicorn(uvicorn.Server):
    """uvicorn that tells the emulator first when asked to exit (by signal or by `stop`)."""

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self.exit_requested = asyncio.Event()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)

    async def main_loop(self) -> None:
        """uvicorn's tick loop, but woken at once by an exit request (tests stop one emulator each)."""
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exit_requested.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, but polling every 5 ms where uvicorn pauses 0.1 s (tests stop one emulator each)."""
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        for _ in range(int((self.config.timeout_graceful_shutdown or 0) / 0.005)):
            if not (self.server_state.connections or self.server_state.tasks):
                break
            await asyncio.sleep(0.005)
        for task in self.server_state.tasks:
            task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()


def _api_error(error: ApiError) -> JSONResponse:
    return JSONResponse(error.to_api(), status_code=error.error_code)


class EmulatorServer:
    """Owns the state, the Starlette app and the uvicorn server; one emulated bot per instance."""

    def __init__(
        self,
        state: EmulatorState,
        port: int = 0,
        webhook_retry_delay: float = 0.05,
        webhook_max_retry_delay: float = 1.0,
        webhook_timeout: float = 5.0,
        on_ready: Callable[[str], None] | None = None,
    ) -> None:
        self.state = state
        self.controls = EmulatorControls(state)
        self._sender_options = (webhook_retry_delay, webhook_max_retry_delay, webhook_timeout)
        self._on_ready = on_ready
        # IPPROTO_TCP named explicitly: asyncio turns Nagle off only on sockets whose proto says TCP,
        # and with Nagle on every answer waits for the client's delayed ACK (about 40 ms a call).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self._socket.listen(128)
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waker: Waker | None = None
        self._thread: threading.Thread | None = None
        app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._bot_api, methods=["GET", "POST"]),
                Route("/file/bot{token}/{file_path:path}", self._download, methods=["GET"]),
                Route("/_emu/{name}", self._control, methods=["POST"]),
            ],
            lifespan=self._lifespan,
        )
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
        self._server = _Uvicorn(config, self._request_closing)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        self._waker = Waker()
        self.state.update_listeners.append(self._waker.wake)
        sender = WebhookSender(self.state, self._waker, *self._sender_options)
        task = asyncio.create_task(sender.run())
        if self._on_ready is not None:
            self._on_ready(self.url)
        try:
            yield
        finally:
            self._begin_closing()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _request_closing(self) -> None:
        """From any thread (or a signal handler): release long-polls before uvicorn drains requests."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._begin_closing)

    def _begin_closing(self) -> None:
        """Release long-polls and stop the webhook sender, so shutdown never waits on them."""
        self.state.closing = True
        self.state.notify()
        self._server.exit_requested.set()

    async def _bot_api(self, request: Request) -> Response:
        token, method = request.path_params["token"], request.path_params["method"]
        if not _TOKEN.fullmatch(token):
            return _api_error(NOT_FOUND)
        if token != self.state.token:
            return _api_error(UNAUTHORIZED)
        try:
            values, files = parse_body(request.headers.get("content-type", ""), await request.body())
            params = Params({**dict(request.query_params), **values}, files)
            if method.lower() == "getupdates":
                assert self._waker is not None
                result: Any = await updates.get_updates(self.state, self._waker, params)
            else:
                result = call_method(self.state, method, params)
        except ApiError as error:
            return _api_error(error)
        body: dict[str, Any] = {"ok": True, "result": result}
        if isinstance(result, Described):
            body = {"ok": True, "result": result.result, "description": result.description}
        return JSONResponse(body)

    async def _download(self, request: Request) -> Response:
        if request.path_params["token"] != self.state.token:
            return _api_error(UNAUTHORIZED if _TOKEN.fullmatch(request.path_params["token"]) else NOT_FOUND)
        stored = self.state.files_by_path.get(request.path_params["file_path"])
        if stored is None:
            return _api_error(NOT_FOUND)
        return Response(stored.data, media_type=stored.mime_type or "application/octet-stream")

    async def _control(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in CONTROL_NAMES:
            return JSONResponse({"error": f"unknown control {name!r}"}, status_code=404)
        body = await request.body()
        try:
            kwargs = json.loads(body) if body else {}
            result = getattr(self.controls, name)(**kwargs)
        except (KeyError, ValueError, TypeError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)
        return JSONResponse({"result": result})

    def serve_forever(self) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM (the subprocess entry point)."""
        self._server.run(sockets=[self._socket])

    def start_in_thread(self, timeout: float = 10.0) -> None:
        """Serve on a daemon thread and return once the server accepts requests."""
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name=f"telegram-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        done = threading.Event()
        while not self._server.started and self._thread.is_alive():
            done.wait(0.01)
        if not self._server.started:
            raise RuntimeError("the Telegram emulator did not start")

    def run_in_loop(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `function` on the emulator loop (where all state lives) and return its result."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("the emulator is not running")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(function(*args, **kwargs))
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, join the thread and close the socket; safe to call twice."""
        if self._thread is not None and self._thread.is_alive():
            self._server.should_exit = True
            self._request_closing()
            self._thread.join(timeout)
        self._socket.close()
