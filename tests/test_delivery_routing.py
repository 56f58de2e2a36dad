"""Alert fan-out and alert text: who is told (HR, or the board and never HR), in one transaction,
with content-free text in Chinese then English; alerts nobody may receive are held and counted."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.config import Config
from bot.core import Core
from bot.jobs.alert_routing import AlertRouter, SiteRoute, Unroutable, destinations, routes_from_config
from handlers.alerts import alert_text
from handlers.events import Alert
from handlers.i18n import load_translators
from storage.messages import AdminNotice, AlertAudience, CaseAlert, Delivery, Message, encode

from .conftest import Clock
from .outbox_rows import insert_raw

NORTH = SiteRoute({"zh": "北厂", "en": "North Plant"}, ("telegram:-1001", "wecom:hr-robot"), ("telegram:-1002",))


def case_alert(audience: AlertAudience = "hr", site: str = "north") -> CaseAlert:
    return CaseAlert(site, "HAP-7K3M9Q", "verbal", "normal", audience)


async def enqueue(runtime: Core, clock: Clock, message: Message) -> str:
    async with runtime.database.transaction() as session:
        return await runtime.services.outbox.enqueue(session, message, clock())


async def route(runtime: Core, clock: Clock, routes: dict[str, SiteRoute]) -> dict[str, list[Message]]:
    """Run one fan-out; returns the messages left in the outbox by kind."""
    router = AlertRouter(runtime.services.outbox, routes, runtime.services.translators)
    async with runtime.database.transaction() as session:
        await router.route_due(session, clock(), 100)
    found: dict[str, list[Message]] = {}
    async with runtime.database.transaction(write=False) as session:
        for item in await runtime.services.outbox.pending(session):
            found.setdefault(item.message.kind, []).append(item.message)
    return found


def deliveries(found: dict[str, list[Message]]) -> list[Delivery]:
    return [message for message in found.get("deliver", []) if isinstance(message, Delivery)]


def test_routes_come_from_the_site_config(config: Config) -> None:
    routes = routes_from_config(config)
    assert routes["north"].hr_chats == ("telegram:-1001",)
    assert routes["north"].board_chats == ("telegram:-1002",)
    assert routes["main"].hr_chats == () and routes["main"].name["en"] == "Factory One"


def test_board_alerts_never_include_an_hr_chat() -> None:
    assert destinations(NORTH, "hr") == ("telegram:-1001", "wecom:hr-robot")
    assert destinations(NORTH, "board") == ("telegram:-1002",)
    shared = SiteRoute({}, ("telegram:-1001",), ("telegram:-1001", "telegram:-1002", "telegram:-1002"))
    assert destinations(shared, "board") == ("telegram:-1002",)
    with pytest.raises(Unroutable, match="no_board_chat"):
        destinations(SiteRoute({}, ("telegram:-1001",), ("telegram:-1001",)), "board")
    with pytest.raises(Unroutable, match="no_hr_chat"):
        destinations(SiteRoute({}, (), ("telegram:-1002",)), "hr")
    with pytest.raises(Unroutable, match="bad_payload"):
        destinations(NORTH, "everyone")


def test_alert_text_is_content_free_and_chinese_first() -> None:
    translators = load_translators()
    text = alert_text(translators, NORTH.name, Alert("north", "HAP-7K3M9Q", "verbal", "danger_now", "hr"))
    chinese, english = text.split("\n\n")
    assert "北厂" in chinese and "言语：评论、黄色笑话、怪声" in chinese
    assert "North Plant" in english and "Words: comments, jokes, sounds" in english
    assert "In danger now: act at once" in english and english.startswith("🆘")
    assert text.count("HAP-7K3M9Q") == 2
    assert len(english.splitlines()) == 4, "site, reference, type and urgency: nothing else"


@pytest.mark.parametrize(
    ("category", "line"),
    [("added_information", "The reporter added information."), ("withdrawn", "The reporter withdrew the report.")],
)
def test_update_alerts_say_only_what_changed(category: str, line: str) -> None:
    text = alert_text(load_translators(), NORTH.name, Alert("north", "HAP-7K3M9Q", category, "normal", "hr"))
    english = text.split("\n\n")[-1]
    assert english.splitlines() == ["📝 Report update at North Plant", "Reference: HAP-7K3M9Q", line]


def test_unknown_labels_say_not_given() -> None:
    text = alert_text(load_translators(), {"en": "X"}, Alert("x", "HAP-1", "None", "None", "hr"))
    assert "Type: Not given" in text and "Urgency: Not given" in text


async def test_alert_fans_out_to_every_hr_chat_in_one_step(runtime: Core, clock: Clock) -> None:
    await enqueue(runtime, clock, case_alert())
    await enqueue(runtime, clock, AdminNotice("telegram:-100777", "FAQ reloaded"))
    found = await route(runtime, clock, {"north": NORTH})
    assert "case_alert" not in found and "admin_notice" not in found
    chats = sorted(delivery.chat for delivery in deliveries(found))
    assert chats == ["telegram:-1001", "telegram:-100777", "wecom:hr-robot"]
    texts = {delivery.chat: delivery.text for delivery in deliveries(found)}
    assert "HAP-7K3M9Q" in texts["telegram:-1001"] and texts["telegram:-100777"] == "FAQ reloaded"


async def test_board_alert_goes_to_the_board_only(runtime: Core, clock: Clock) -> None:
    await enqueue(runtime, clock, case_alert("board"))
    found = await route(runtime, clock, {"north": NORTH})
    assert [delivery.chat for delivery in deliveries(found)] == ["telegram:-1002"]


async def test_alert_not_yet_due_stays(runtime: Core, clock: Clock) -> None:
    async with runtime.database.transaction() as session:
        await runtime.services.outbox.enqueue(session, case_alert(), clock() + timedelta(minutes=5))
    found = await route(runtime, clock, {"north": NORTH})
    assert "deliver" not in found and len(found["case_alert"]) == 1


async def test_board_alert_without_board_chat_is_held_counted_once_and_never_sent_to_hr(
    runtime: Core, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    no_board = {"north": SiteRoute(NORTH.name, NORTH.hr_chats, ())}
    await enqueue(runtime, clock, case_alert("board"))
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            found = await route(runtime, clock, no_board)
            assert "deliver" not in found and len(found["case_alert"]) == 1
            clock.advance(hours=1)
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.counts(session) == {"no_board_chat": 1}
    errors = [r.getMessage() for r in caplog.records if r.name == "bot.jobs.alert_routing"]
    assert len(errors) == 3, "re-checked hourly, logged each time"
    assert all("'north'" in e and "board_chats" in e and "HAP-7K3M9Q" not in e for e in errors)
    # Once an operator configures a board chat, the held alert goes there.
    found = await route(runtime, clock, {"north": NORTH})
    assert [delivery.chat for delivery in deliveries(found)] == ["telegram:-1002"]


async def test_alert_for_a_site_without_hr_chat_or_unknown_site_is_held(runtime: Core, clock: Clock) -> None:
    await enqueue(runtime, clock, case_alert(site="main"))
    await enqueue(runtime, clock, case_alert(site="gone"))
    found = await route(runtime, clock, {"main": SiteRoute({"en": "Main"})})
    assert len(found["case_alert"]) == 2
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.counts(session) == {"no_hr_chat": 1, "unknown_site": 1}


async def test_malformed_payload_is_set_aside_and_counted_and_the_rest_routed(runtime: Core, clock: Clock) -> None:
    short = await insert_raw(runtime, "case_alert", {"v": 1, "site": "north"}, clock())
    mistyped = await insert_raw(runtime, "admin_notice", {"v": 1, "chat": 5, "text": None}, clock())
    nobody = await insert_raw(runtime, "case_alert", {**encode(case_alert()), "audience": "all"}, clock())
    await enqueue(runtime, clock, case_alert())
    for _ in range(2):
        found = await route(runtime, clock, {"north": NORTH})
        clock.advance(hours=1)
    assert sorted(delivery.chat for delivery in deliveries(found)) == ["telegram:-1001", "wecom:hr-robot"]
    async with runtime.database.transaction(write=False) as session:
        assert await runtime.services.outbox.counts(session) == {"bad_payload": 3}
        set_aside = await runtime.services.outbox.set_aside_rows(session)
    assert set_aside == dict.fromkeys((short, mistyped, nobody), "bad_payload"), "kept, never deleted"


async def test_alerts_end_with_the_case_on_the_hr_desk_when_the_public_url_is_set(
    runtime: Core, clock: Clock
) -> None:
    linked = SiteRoute(NORTH.name, NORTH.hr_chats, NORTH.board_chats, desk_url="https://desk.example.com/hap")
    await enqueue(runtime, clock, case_alert("board"))
    [delivery] = deliveries(await route(runtime, clock, {"north": linked}))
    *alert, link = delivery.text.split("\n\n")
    assert link == "🔗 https://desk.example.com/hap/desk/cases/HAP-7K3M9Q"
    assert "desk" not in "\n\n".join(alert), "the link comes once, after both languages"
    await enqueue(runtime, clock, case_alert())
    plain = [d for d in deliveries(await route(runtime, clock, {"north": NORTH})) if d.text != delivery.text]
    assert len(plain) == 2 and all("🔗" not in d.text and "http" not in d.text for d in plain)


def test_the_public_url_comes_from_the_web_section(config: Config) -> None:
    raw = config.model_dump(mode="python")
    raw["storage"]["url"] = config.storage.url.get_secret_value()
    raw["web"]["public_url"] = "https://desk.example.com/"
    assert routes_from_config(Config.model_validate(raw))["north"].desk_url == "https://desk.example.com"
    assert routes_from_config(config)["north"].desk_url is None
