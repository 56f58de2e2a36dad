"""Named states to steps: each state has a question (``ask``) and an answer handler (``on``).

One router per feature module; ``handlers.app.build_router`` combines them in one place.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .context import Context

Step = Callable[[Context], Awaitable[None]]


class Router:
    def __init__(self) -> None:
        self._ask: dict[str, Step] = {}
        self._on: dict[str, Step] = {}

    def asks(self, state: str) -> Callable[[Step], Step]:
        """Register the step that asks the question of ``state``."""

        def register(step: Step) -> Step:
            self._ask[state] = step
            return step

        return register

    def on(self, state: str) -> Callable[[Step], Step]:
        """Register the step that handles the worker's answer in ``state``."""

        def register(step: Step) -> Step:
            self._on[state] = step
            return step

        return register

    def include(self, other: Router) -> None:
        clashes = (self._ask.keys() & other._ask.keys()) | (self._on.keys() & other._on.keys())
        if clashes:
            raise ValueError(f"states registered twice: {sorted(clashes)}")
        self._ask.update(other._ask)
        self._on.update(other._on)

    @property
    def states(self) -> frozenset[str]:
        return frozenset(self._ask) | frozenset(self._on)

    async def ask(self, ctx: Context) -> None:
        await self._ask[ctx.conversation.state](ctx)

    async def handle(self, ctx: Context) -> None:
        await self._on[ctx.conversation.state](ctx)
