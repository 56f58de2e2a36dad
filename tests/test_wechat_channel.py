"""The WeChat channel end to end, with the bot's web app over HTTP and WeChat's own crypto."""

from __future__ import annotations

import asyncio
import io
import logging

import pytest
from PIL import Image
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from bot.channels.images import sanitise_image
from bot.channels.wechat.adapter import pack
from bot.core import Core
from bot.logs import QUIET
from handlers.events import Choice, Reply
from storage.cases import CaseStatus
from storage.database import sqlite_path
from storage.evidence import hour_number
from storage.messages import Delivery
from storage.models import Base, Case, Conversation, InboundUpdate

from .flows import RECEIPT_LINE, receipt_in, reference_in
from .test_images import canaries_in, loaded_jpeg
from .wechat_harness import AES_KEY, TOKEN, WeChatUser, message_xml, sha1_signature, wechat_server


async def count(runtime: Core, model: type) -> int:
    async with runtime.database.transaction(write=False) as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


def media_store(runtime: Core, media: dict[str, bytes]):  # type: ignore[no-untyped-def]
    """Fetching media is the network edge: the bytes come from this dict, the rest is the real thing."""

    async def store(media_id: str) -> str | None:
        image = await asyncio.to_thread(sanitise_image, media[media_id])
        evidence = runtime.services.evidence
        assert evidence is not None
        async with runtime.database.transaction() as session:
            expires = hour_number(runtime.services.clock()) + 25
            return await evidence.store_draft_file(session, image.data, image.mime, expires)

    return store


async def test_url_check_answers_echostr_only_when_signed(runtime: Core) -> None:
    async with wechat_server(runtime) as (server, _):
        query = server.signed_query(None)
        ok = await server.client.get(server.url, params={**query, "echostr": "hello-123"})
        assert ok.status_code == 200 and ok.text == "hello-123"
        forged = {**query, "signature": sha1_signature("wrong-token", query["timestamp"], query["nonce"])}
        assert (await server.client.get(server.url, params={**forged, "echostr": "x"})).status_code == 403
        stale = server.signed_query(None, timestamp=server.now() - 600)
        assert (await server.client.get(server.url, params={**stale, "echostr": "x"})).status_code == 403


async def test_chinese_report_with_qr_site_photo_and_voice_then_status(runtime: Core) -> None:
    media = {"m-photo-1": loaded_jpeg()}
    async with wechat_server(runtime, store_media=media_store(runtime, media)) as (server, _):
        mei = WeChatUser(server)
        greeting = await mei.event("subscribe", "qrscene_north")
        assert "北厂" in greeting and "1. 匿名举报骚扰" in greeting
        notice = await mei.say("1")
        assert "举报前请阅读" in notice
        assert "写下" not in notice
        await mei.say("1")  # agree
        saved = await mei.say("组长总是在没人的时候对我说下流话")
        assert "已保存（1条）" in saved
        await mei.picture("m-photo-1")
        await mei.voice("他还摸了我的腰")
        await mei.say("写完了")
        await mei.say("2")  # physical
        await mei.say("跳过")
        await mei.say("1")  # workshop
        await mei.say("2")  # a co-worker
        await mei.say("跳过")
        await mei.say("3")  # not urgent
        review = await mei.say("2")  # no notifications
        assert "他还摸了我的腰" in review and "附件：1个" in review
        shown = await mei.say("提交举报")
        receipt, reference = receipt_in(shown), reference_in(shown)

        other = WeChatUser(server)
        await other.say("查询")
        status = await other.say(receipt.lower().replace("-", ""))
        assert reference in status and "已收到，等待处理" in status

    async with runtime.database.transaction(write=False) as session:
        case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None and case.site == "north" and case.status is CaseStatus.RECEIVED
        report = await runtime.services.cases.read_report(session, case.id)
        evidence = runtime.services.evidence
        assert evidence is not None
        files = await evidence.files(session, case.id)
    assert report["what"] == ["组长总是在没人的时候对我说下流话", "他还摸了我的腰"]
    assert len(files) == 1 and not canaries_in(files[0][1])
    with Image.open(io.BytesIO(files[0][1])) as stored:
        assert "exif" not in stored.info


async def test_retries_of_the_submit_make_one_case_and_a_fresh_receipt(runtime: Core) -> None:
    async with wechat_server(runtime) as (server, channel):
        channel._confirm_after = 30
        mei = WeChatUser(server)
        await mei.event("subscribe")
        for answer in ("1", "1", "他在宿舍门口等我", "写完了", "1", "跳过", "跳过", "2", "跳过", "3", "2"):
            await mei.say(answer)
        submit = message_xml(mei.openid, server.now(), "text", Content="提交举报", MsgId="8800000000000000001")
        replies = [server.decrypt_reply(await server.post_xml(submit)) for _ in range(3)]
        receipts = [receipt_in(reply) for reply in replies]
        assert len(set(receipts)) == 3, "every retry gets a fresh receipt"
        assert await count(runtime, Case) == 1
        for receipt in receipts:  # each was shown, so each may have been written down: all open the case
            other = WeChatUser(server)
            await other.say("查询")
            assert reference_in(replies[2]) in await other.say(receipt)


async def test_forged_stale_replayed_and_malformed_callbacks_are_refused_with_nothing_stored(runtime: Core) -> None:
    async with wechat_server(runtime) as (server, _):
        openid = "oREFUSEDuser000000000000000"
        xml = message_xml(openid, server.now(), "text", Content="举报", MsgId="9900000000000000001")
        ts, nonce = str(server.now()), "n0nce01"
        body, encrypted = server.encrypt(xml, ts, nonce)
        good = server.signed_query(encrypted, timestamp=int(ts), nonce=nonce)
        wrong_app = server.encrypt(xml, ts, "n0nce02", crypto=WeChatCrypto(TOKEN, AES_KEY, "wxWRONGAPP00000000"))
        bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
                "<xml><Encrypt>&lol2;</Encrypt></xml>")
        refused = {
            "forged signature": ({**good, "msg_signature": "0" * 40}, body.encode()),
            "stale timestamp": (server.signed_query(encrypted, timestamp=server.now() - 301, nonce=nonce),
                                server.encrypt(xml, str(server.now() - 301), nonce)[0].encode()),
            "wrong app id": (
                server.signed_query(wrong_app[1], timestamp=int(ts), nonce="n0nce02"), wrong_app[0].encode()
            ),
            "truncated body": (good, body.encode()[: len(body) // 2]),
            "malformed xml": (
                server.signed_query("x", timestamp=int(ts), nonce="n0nce03"), b"<xml><Encrypt>x</Encrypt>"
            ),
            "entity bomb": (server.signed_query("x", timestamp=int(ts), nonce="n0nce04"), bomb.encode()),
            "entity bomb in utf-16": (
                server.signed_query("x", timestamp=int(ts), nonce="n0nce05"),
                bomb.replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16"),
            ),
            "oversized body": (good, b"<xml>" + b"A" * 70_000 + b"</xml>"),
            "no signature": ({"timestamp": ts, "nonce": nonce}, body.encode()),
        }
        for name, (query, content) in refused.items():
            response = await server.client.post(server.url, params=query, content=content)
            assert response.status_code == 403, name
        assert await count(runtime, InboundUpdate) == 0 and await count(runtime, Conversation) == 0

        first = await server.client.post(server.url, params=good, content=body.encode())
        assert first.status_code == 200 and "举报前请阅读" in server.decrypt_reply(first)
        replayed = await server.client.post(server.url, params=good, content=body.encode())
        assert replayed.status_code == 403, "a reused nonce is refused"
        assert await count(runtime, InboundUpdate) == 1


async def test_malformed_query_parameters_get_403_never_500_on_get_and_post(runtime: Core) -> None:
    """Each parameter is signed as given, so only its malformation can be why it is refused."""
    async with wechat_server(runtime) as (server, _):
        xml = message_xml("oMALFORMEDuser000000000000", server.now(), "text", Content="hi", MsgId="9900000000000000002")
        now = str(server.now())

        body, encrypted = server.encrypt(xml, now, "n0nce10")

        def signed(timestamp: str = now, nonce: str = "n0nce10", **extra: str) -> dict[str, str]:
            signature = sha1_signature(TOKEN, timestamp, nonce)
            return {"timestamp": timestamp, "nonce": nonce, "signature": signature, **extra}

        malformed = {
            "superscript digit as timestamp": signed(timestamp="²"),
            "arabic-indic digits as timestamp": signed(timestamp="١٧٠٠٠٠٠٠٠٠"),
            "5,000-digit timestamp": signed(timestamp="7" * 5000),
            "negative timestamp": signed(timestamp="-1"),
            "non-ASCII nonce": signed(nonce="nön\u00a0ce"),
            "control character in nonce": signed(nonce="n\x00nce"),
            "non-ASCII signatures": {**signed(), "signature": "签名" * 20, "msg_signature": "签名" * 20},
        }
        assert (await server.client.get(server.url, params=signed(echostr="回显"))).status_code == 403
        for name, query in malformed.items():
            message_signature = sha1_signature(TOKEN, query["timestamp"], query["nonce"], encrypted)
            post_query = {"msg_signature": message_signature, **query}
            got = await server.client.get(server.url, params=query)
            posted = await server.client.post(server.url, params=post_query, content=body.encode())
            assert (got.status_code, posted.status_code) == (403, 403), name
        for raw in ("timestamp=%FF%FE&nonce=x&signature=y", "timestamp=%ED%A0%80&nonce=%ED%A0%80", "timestamp&nonce"):
            assert (await server.client.get(f"{server.url}?{raw}")).status_code == 403, raw
            assert (await server.client.post(f"{server.url}?{raw}", content=b"<xml/>")).status_code == 403, raw
        assert await count(runtime, InboundUpdate) == 0 and await count(runtime, Conversation) == 0


async def test_slow_work_answers_success_and_delivers_through_the_outbox(runtime: Core) -> None:
    async def slow_media(_media_id: str) -> str | None:
        await asyncio.sleep(0.5)
        return None

    async with wechat_server(runtime, store_media=slow_media, passive_seconds=0.1) as (server, channel):
        mei = WeChatUser(server)
        await mei.event("subscribe")
        await mei.say("1")
        await mei.say("1")  # telling what happened: pictures are fetched now
        assert await mei.picture("m-slow") == "", "past the deadline WeChat gets 'success' at once"
        await asyncio.sleep(0.8)
        async with runtime.database.transaction(write=False) as session:
            items = await runtime.services.outbox.pending(session, Delivery)
            sent = [item.message for item in items if isinstance(item.message, Delivery)]
        assert sent and len(sent) == len(items) and all(d.chat == f"wechat:{mei.openid}" for d in sent)
        assert any("只能看懂文字和图片" in d.text or "图片" in d.text for d in sent)
        del channel


async def test_no_openid_canary_or_media_url_in_database_or_logs(
    runtime: Core, caplog: pytest.LogCaptureFixture
) -> None:
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    caplog.set_level(logging.DEBUG)
    canary = "金丝雀微信样本在包装车间"
    async with wechat_server(runtime, store_media=media_store(runtime, {"m1": loaded_jpeg()})) as (server, _):
        mei = WeChatUser(server)
        await mei.event("subscribe")
        for answer in ("1", "1", canary):
            await mei.say(answer)
        await mei.picture("m1")
        for answer in ("写完了", "1", "跳过", "跳过", "2", "跳过", "3", "1", "提交举报"):
            await mei.say(answer)
        receipt = receipt_in(mei.last)
    logged = "\n".join(r.getMessage() for r in caplog.records).encode()
    dump = await database_bytes(runtime)
    for where, blob in (("logs", logged), ("database", dump)):
        for needle in (mei.openid, canary, "secret-pic-url", receipt):
            assert needle.encode() not in blob, f"{needle[:6]}… found in {where}"


async def database_bytes(runtime: Core) -> bytes:
    """Every stored cell as bytes (the real file on SQLite; a full SELECT of each table on PostgreSQL)."""
    path = sqlite_path(runtime.config.storage_url)
    if path is not None:
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    chunks = []
    async with runtime.database.transaction(write=False) as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).all():
                chunks.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
    return b"\n".join(chunks)


async def test_menu_clicks_voice_without_text_and_other_kinds_get_clear_answers(runtime: Core) -> None:
    async with wechat_server(runtime) as (server, _):
        mei = WeChatUser(server)
        await mei.event("subscribe")
        assert "举报前请阅读" in await mei.event("CLICK", "report")
        no_text = await mei.send_xml("voice", MediaId="v1", Format="amr", MsgId="7700000000000000001")
        assert "听不了语音" in no_text and "举报前请阅读" in no_text, "asks to type, then repeats the question"
        location = await mei.send_xml("location", Location_X="22.5", Location_Y="113.9", Scale="15",
                                      Label="somewhere", MsgId="7700000000000000002")
        assert "只能看懂文字和图片" in location


def test_long_replies_are_split_within_2048_bytes_and_receipts_stay_whole() -> None:
    long_answer = Reply("\n".join(f"第{i}段：" + "这是一段很长的政策说明。" * 12 for i in range(12)))
    receipt = Reply("你的秘密回执：\n\nK7QX-M2PA-X9TB-4RWE\n\n请保存好。", carries_receipt=True)
    passive, rest = pack([long_answer, receipt, Reply("菜单", (Choice("report", "举报"),))])
    assert "K7QX-M2PA-X9TB-4RWE" in passive, "the receipt is always in the passive reply, whole"
    assert len(passive.encode()) <= 2048 and all(len(text.encode()) <= 2048 for text in rest)
    joined = passive + "".join(rest)
    for index in range(12):
        assert f"第{index}段" in joined, "nothing is lost when splitting"


async def test_a_retry_of_a_later_message_does_not_replace_the_receipt(runtime: Core) -> None:
    async with wechat_server(runtime) as (server, _):
        mei = WeChatUser(server)
        await mei.event("subscribe")
        for answer in ("1", "1", "他在宿舍门口等我", "写完了", "1", "跳过", "跳过", "2", "跳过", "3", "2"):
            await mei.say(answer)
        receipt = receipt_in(await mei.say("提交举报"))
        thanks = message_xml(mei.openid, server.now(), "text", Content="谢谢", MsgId="8800000000000000777")
        for _ in range(2):  # the message and WeChat's retry of it
            reply = server.decrypt_reply(await server.post_xml(thanks))
            assert not RECEIPT_LINE.search(reply), "no new receipt for a later message"
        other = WeChatUser(server)
        await other.say("查询")
        assert "HAP-" in await other.say(receipt), "the receipt the worker wrote down still works"


async def test_a_worker_busy_in_a_report_is_told_the_menu_word_never_slash_start(runtime: Core) -> None:
    """/start is Telegram's word: a WeChat worker typing it would only see it echoed as text."""
    async with wechat_server(runtime) as (server, _):
        mei = WeChatUser(server)
        await mei.event("subscribe")
        await mei.say("1")  # report
        await mei.say("1")  # agree
        await mei.say("他总是跟着我")
        clicked = await mei.event("CLICK", "status")  # the custom menu, mid-report
        typed = await mei.say("查询")
        for busy in (clicked, typed):
            assert "未完成的操作" in busy and "“菜单”" in busy, busy
            assert "/start" not in busy
        back = await mei.say("菜单")
        assert "1. 匿名举报骚扰" in back, "the word it names does lead to the menu"
