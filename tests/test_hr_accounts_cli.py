"""``hapbot hr``: adding people with a one-time enrolment link, listing, disabling, resetting, and
turning the config's ``[hr]`` lists into accounts; the config keys of the desk."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.cli import _parser
from bot.cli.hr import run as run_hr
from bot.config import Config, ConfigError, load_config
from bot.core import Core
from storage.accounts import Accounts
from storage.crypto import KeyRing

from .conftest import Clock
from .desk_kit import PUBLIC_URL, desk_client, desk_config, enrol, login, quick_desk

LINK = re.compile(re.escape(PUBLIC_URL) + r"/desk/enrol/([A-Za-z0-9_-]{43})")


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    raw = desk_config(database_url, tmp_path / "data").model_dump(mode="python")
    raw["hr"] = {"handlers": ["wang", "zhao"], "board_members": ["li"]}
    return Config.model_validate(raw)


async def hr(config: Config, keyring: KeyRing, clock: Clock, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_hr(config, _parser().parse_args(["hr", *argv]), out, keyring=keyring, clock=clock)
    return code, out.getvalue()


async def test_add_prints_a_link_that_enrols_the_person(runtime: Core, config: Config, keyring: KeyRing,
                                                        clock: Clock) -> None:
    code, out = await hr(config, keyring, clock, "add", "chen", "--role", "handler", "--site", "north")
    assert code == 0 and "chen: handler, sites: north" in out
    match = LINK.search(out)
    assert match
    desk = quick_desk(runtime, clock)
    async with desk_client(desk) as client:
        person = await enrol(client, desk, match.group(1), "chen", clock)
        assert (await login(client, person, clock)).status_code == 303
    async with runtime.database.transaction(write=False) as session:
        account = await Accounts(runtime.crypto).by_name(session, "chen")
    assert account is not None and account.person.sites == frozenset({"north"})
    code, again = await hr(config, keyring, clock, "add", "chen", "--role", "board")
    assert code == 2 and "exists already" in again
    code, bad = await hr(config, keyring, clock, "add", "chen  wu", "--role", "board")
    assert (code, bad) == (2, "hapbot: 'chen  wu': a name is 1 to 64 letters, digits, '.', '_' or '-', with single "
                              "spaces between words\n")


async def test_add_checks_sites_and_needs_the_public_url(config: Config, keyring: KeyRing, clock: Clock,
                                                         runtime: Core) -> None:
    with pytest.raises(ConfigError, match="--site: moon is not a site"):
        await hr(config, keyring, clock, "add", "chen", "--role", "handler", "--site", "moon")
    with pytest.raises(ConfigError, match="board members see the cases of every site"):
        await hr(config, keyring, clock, "add", "chen", "--role", "board", "--site", "main")
    raw = config.model_dump(mode="python")
    raw["web"]["public_url"] = None
    with pytest.raises(ConfigError, match=r"web.public_url: not set"):
        await hr(Config.model_validate(raw), keyring, clock, "add", "chen", "--role", "handler")


async def test_list_disable_and_reset(runtime: Core, config: Config, keyring: KeyRing, clock: Clock) -> None:
    _, added = await hr(config, keyring, clock, "add", "chen", "--role", "handler")
    first = LINK.search(added)
    assert first
    desk = quick_desk(runtime, clock)
    async with desk_client(desk) as client:
        person = await enrol(client, desk, first.group(1), "chen", clock)
        await login(client, person, clock)
        code, listing = await hr(config, keyring, clock, "list")
        assert code == 0 and re.search(r"chen\s+handler\s+main,north\s+enrolled, 1 session", listing)

        assert (await hr(config, keyring, clock, "disable", "chen"))[0] == 0
        assert (await client.get("/desk/")).status_code == 303
        assert "disabled" in (await hr(config, keyring, clock, "list"))[1]

        code, reset = await hr(config, keyring, clock, "reset", "chen")
        second = LINK.search(reset)
        assert code == 0 and second and second.group(1) != first.group(1)
        assert (await client.get(f"/desk/enrol/{first.group(1)}")).status_code == 404
        clock.advance(seconds=30)
        assert (await login(client, person, clock)).status_code == 400  # the old password and code are gone
        again = await enrol(client, desk, second.group(1), "chen", clock)
        assert again.secret != person.secret
        assert (await login(client, again, clock)).status_code == 303
    nobody = await hr(config, keyring, clock, "disable", "nobody")
    assert nobody == (2, "hapbot: no account nobody (see `hapbot hr list`)\n")
    await hr(config, keyring, clock, "add", "sun", "--role", "board")
    clock.advance(hours=25)
    assert re.search(r"sun\s+board\s+-\s+link expired", (await hr(config, keyring, clock, "list"))[1])


async def test_migrate_turns_the_config_lists_into_accounts_once(runtime: Core, config: Config, keyring: KeyRing,
                                                                 clock: Clock) -> None:
    code, out = await hr(config, keyring, clock, "migrate")
    assert code == 0 and len(LINK.findall(out)) == 3
    async with runtime.database.transaction(write=False) as session:
        accounts = {a.name: a for a in await Accounts(runtime.crypto).all(session)}
    assert {name: (a.role.value, sorted(a.sites)) for name, a in accounts.items()} == {
        "wang": ("handler", ["main", "north"]),
        "zhao": ("handler", ["main", "north"]),
        "li": ("board", []),
    }
    code, again = await hr(config, keyring, clock, "migrate")
    assert code == 0 and not LINK.search(again) and again.count("has an account already") == 3


def test_config_checks_the_desk_keys(tmp_path: Path) -> None:
    def problems(text: str) -> str:
        path = tmp_path / "config.toml"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as raised:
            load_config(path, {})
        return str(raised.value)

    assert "web.public_url: must be an https:// address" in problems('[web]\npublic_url = "http://desk.example.com"\n')
    assert "secure_cookies = false is allowed only when public_url is http://127.0.0.1" in problems(
        '[web]\npublic_url = "https://desk.example.com"\nsecure_cookies = false\n'
    )
    assert "hr.handlers: 'Wang  Li' is not usable as a desk account name" in problems(
        '[hr]\nhandlers = ["Wang  Li"]\n'
    )
    assert "listed twice" in problems('[hr]\nboard_members = ["li", "li"]\n')
    local = tmp_path / "local.toml"
    local.write_text('[web]\npublic_url = "http://127.0.0.1:8080/"\nsecure_cookies = false\n', encoding="utf-8")
    assert load_config(local, {}).web.public_url == "http://127.0.0.1:8080"
