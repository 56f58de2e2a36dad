"""Named states to steps: each state has a question (``ask``) and an answer handler (``on``).

One router per feature module; ``handlers.app.build_router`` combines them in one place. A feature
also registers here what only it knows but every message needs (its hooks): what lapses with time,
what is owed to the worker from before, whether a picture would be kept, what to note after each
message. So the dispatcher and the intake ask the router, and never import a feature.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .context import Context
from .conversation import Conversation

Step = Callable[[Context], Awaitable[None]]
Expiry = Callable[[Context], bool]
Owed = Callable[[Context], Awaitable[bool]]
PictureRule = Callable[[Conversation], bool]
AfterMessage = Callable[[Conversation], None]


class Router:
    def __init__(self) -> None:
        self._ask: dict[str, Step] = {}
        self._on: dict[str, Step] = {}
        self._expiries: list[Expiry] = []
        self._owed: list[Owed] = []
        self._picture_rules: list[PictureRule] = []
        self._after_message: list[AfterMessage] = []

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

    def expires(self, rule: Expiry) -> Expiry:
        """Register what lapses with time; the rule returns True when that moved the worker out of
        what they were doing (their message is then not acted on)."""
        self._expiries.append(rule)
        return rule

    def owes(self, step: Owed) -> Owed:
        """Register what any next message brings from before, whatever it says (a receipt that may
        not have arrived); the step returns True when something was owed."""
        self._owed.append(step)
        return step

    def takes_pictures(self, rule: PictureRule) -> PictureRule:
        """Register when a picture would be kept; channels ask before downloading one."""
        self._picture_rules.append(rule)
        return rule

    def after_message(self, hook: AfterMessage) -> AfterMessage:
        """Register what to note in the conversation after each handled message."""
        self._after_message.append(hook)
        return hook

    def include(self, other: Router) -> None:
        clashes = (self._ask.keys() & other._ask.keys()) | (self._on.keys() & other._on.keys())
        if clashes:
            raise ValueError(f"states registered twice: {sorted(clashes)}")
        self._ask.update(other._ask)
        self._on.update(other._on)
        self._expiries.extend(other._expiries)
        self._owed.extend(other._owed)
        self._picture_rules.extend(other._picture_rules)
        self._after_message.extend(other._after_message)

    @property
    def states(self) -> frozenset[str]:
        return frozenset(self._ask) | frozenset(self._on)

    async def ask(self, ctx: Context) -> None:
        await self._ask[ctx.conversation.state](ctx)

    async def handle(self, ctx: Context) -> None:
        await self._on[ctx.conversation.state](ctx)

    def expire(self, ctx: Context) -> bool:
        """Runs every expiry rule, in registration order; True when any moved the worker."""
        moved = [rule(ctx) for rule in self._expiries]
        return any(moved)

    async def deliver_owed(self, ctx: Context) -> bool:
        """Gives the worker what is owed from before; True when anything was."""
        owed = [await step(ctx) for step in self._owed]
        return any(owed)

    def wants_pictures(self, conversation: Conversation) -> bool:
        return any(rule(conversation) for rule in self._picture_rules)

    def finish_message(self, conversation: Conversation) -> None:
        """Runs the after-message hooks, once the message was handled."""
        for hook in self._after_message:
            hook(conversation)
