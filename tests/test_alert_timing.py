"""When a case alert is due: at a random moment within ``[hr] alert_max_delay_minutes``, at once
when that is 0, and always at once for "danger now"."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.config import Config
from bot.core import build_core
from handlers.faq.service import LibraryFaqService
from storage.crypto import KeyRing
from storage.messages import CaseAlert

from .conftest import Clock, Worker, make_config
from .flows import report_script


def with_delay(config: Config, minutes: int) -> Config:
    raw = config.model_dump(mode="python")
    raw["hr"]["alert_max_delay_minutes"] = minutes
    return Config.model_validate(raw)


async def alert_delays(config: Config, keyring: KeyRing, clock: Clock, faq: LibraryFaqService,
                       urgency: str, reports: int) -> list[timedelta]:
    core = await build_core(config, keyring=keyring, clock=clock, faq=faq)
    try:
        for n in range(reports):
            worker = Worker(core, f"alert-timing-{n}")
            await worker.send("/start")
            for line in report_script(["He keeps touching my shoulders"], urgency=urgency):
                await worker.send(line.get("text"), choice=line.get("choice"))
        async with core.database.transaction(write=False) as session:
            alerts = await core.services.outbox.pending(session, CaseAlert)
    finally:
        await core.close()
    assert len(alerts) == reports
    return [alert.due_at - clock() for alert in alerts]


async def test_a_zero_delay_sends_every_alert_at_once(
    database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> None:
    config = with_delay(make_config(database_url, tmp_path / "data"), 0)
    assert await alert_delays(config, keyring, clock, faq_service, "normal", 3) == [timedelta(0)] * 3


async def test_the_default_spreads_alerts_within_the_hour(
    database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> None:
    config = make_config(database_url, tmp_path / "data")
    assert config.hr.alert_max_delay_minutes == 60
    delays = await alert_delays(config, keyring, clock, faq_service, "normal", 4)
    assert all(timedelta(0) <= delay <= timedelta(hours=1) for delay in delays)
    assert len(set(delays)) > 1, "four alerts at the same moment would give the timing away"


async def test_danger_now_goes_at_once_whatever_the_delay(
    database_url: str, tmp_path: Path, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService
) -> None:
    config = with_delay(make_config(database_url, tmp_path / "data"), 120)
    assert await alert_delays(config, keyring, clock, faq_service, "danger_now", 1) == [timedelta(0)]
