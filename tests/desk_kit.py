"""Helpers for tests of the HR desk: a desk on the test's database and clock, an HTTP client that
speaks to it in-process (https, so Secure cookies are kept), and the steps a person takes:
add an account, enrol through the link, sign in. Shared by the sign-in and the case-page tests."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import argon2
import httpx

from bot.cli.signin import Prompt
from bot.config import Config
from bot.core import Core
from bot.web.app import build_web_app
from bot.web.desk import totp
from bot.web.desk.context import Desk
from bot.web.desk.mount import build_desk, make_desk
from storage.accounts import Accounts, PasswordHasher, token_hash
from storage.people import Role

from .conftest import Clock, make_config

PUBLIC_URL = "https://desk.example.com"
PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_TEXT = re.compile(r'<p class="secret" id="secret">([^<]+)</p>')


def desk_config(database_url: str, data_dir: Path, **web: object) -> Config:
    """The test config with ``[web] public_url`` set (and any other ``[web]`` keys given)."""
    raw = make_config(database_url, data_dir).model_dump(mode="python")
    raw["web"].update({"public_url": PUBLIC_URL, **web})
    return Config.model_validate(raw)


class QuickPasswordHasher(PasswordHasher):
    """argon2id at its lowest cost: these tests sign in dozens of times, not test hashing."""

    def __init__(self) -> None:
        super().__init__(argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def quick_desk(runtime: Core, clock: Clock) -> Desk:
    """The desk of ``runtime`` on the test's clock, with the quick password hasher."""
    return make_desk(
        runtime.config, runtime.database, runtime.crypto, clock, runtime.services.translators, QuickPasswordHasher()
    )


@asynccontextmanager
async def desk_client(desk: Desk, address: str = "203.0.113.7") -> AsyncIterator[httpx.AsyncClient]:
    """A browser at ``address`` talking to the web app (with the desk mounted) in-process."""
    transport = httpx.ASGITransport(app=build_web_app([build_desk(desk)]), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL, follow_redirects=False) as client:
        yield client


def csrf_of(page: httpx.Response) -> str:
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def add_account(desk: Desk, name: str, role: Role = Role.HANDLER, sites: tuple[str, ...] = ("main",)) -> str:
    """Adds an account; returns its enrolment token."""
    async with desk.database.transaction() as session:
        _, token = await Accounts(desk.crypto).add(session, name, role, sites, desk.clock())
    return token


@dataclass
class Enrolled:
    name: str
    secret: str


async def enrol(client: httpx.AsyncClient, desk: Desk, token: str, name: str, clock: Clock) -> Enrolled:
    """Opens the link, sets the password, reads the secret off the page and confirms a code."""
    opened = await client.get(f"/desk/enrol/{token}")
    assert opened.status_code == 303 and opened.headers["location"] == "/desk/enrol"
    page = await client.get("/desk/enrol")
    assert page.status_code == 200
    secret_match = SECRET_TEXT.search(page.text)
    assert secret_match
    secret = secret_match.group(1).replace(" ", "")
    done = await client.post(
        "/desk/enrol",
        data={
            "csrf_token": csrf_of(page),
            "password": PASSWORD,
            "repeat": PASSWORD,
            "code": totp.code_at(secret, clock()),
        },
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/desk/login?done=enrolled"
    clock.advance(seconds=totp.STEP_SECONDS)  # the next sign-in needs a code of a later step
    return Enrolled(name, secret)


async def login(
    client: httpx.AsyncClient, person: Enrolled, clock: Clock, *, password: str = PASSWORD, code: str | None = None,
    next_path: str = "/desk/",
) -> httpx.Response:
    page = await client.get("/desk/login")
    return await client.post(
        "/desk/login",
        data={
            "csrf_token": csrf_of(page),
            "name": person.name,
            "password": password,
            "code": code if code is not None else totp.code_at(person.secret, clock()),
            "next": next_path,
        },
    )


async def enrolled_account(
    runtime: Core, clock: Clock, name: str, role: Role = Role.HANDLER, sites: tuple[str, ...] = ("main", "north")
) -> Enrolled:
    """An account set up straight through the repository (password :data:`PASSWORD`), for tests
    that sign in on the command line rather than test enrolment."""
    accounts = Accounts(runtime.crypto)
    secret = totp.new_secret()
    password_hash = await QuickPasswordHasher().hash(PASSWORD)
    async with runtime.database.transaction() as session:
        account, token = await accounts.add(session, name, role, sites, clock())
        assert await accounts.complete_enrolment(
            session, account.id, token_hash(token), password_hash, secret, 0, clock()
        )
    return Enrolled(name, secret)


def terminal(person: Enrolled, clock: Clock, *, password: str = PASSWORD, code: str | None = None) -> Prompt:
    """Answers ``hapbot cases``' questions as ``person`` would: the password, then the code the
    app shows now (``clock`` moves on a step, so the next sign-in has a fresh code)."""

    def prompt(question: str, secret: bool) -> str:
        if secret:
            return password
        answer = code if code is not None else totp.code_at(person.secret, clock())
        clock.advance(seconds=totp.STEP_SECONDS)
        return answer

    return prompt
