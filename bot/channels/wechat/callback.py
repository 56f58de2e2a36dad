"""Checks a WeChat callback before anything is stored: signatures, freshness, size, XML safety,
decryption and app id. A refused request gets 403 and leaves nothing behind.

wechatpy compares signatures with ``!=`` and never checks the timestamp (FACTS.md), so both are
done here, in constant time and against an injectable clock. The nonce is remembered only once
everything else passed, in the same transaction that journals the message (see channel.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

MAX_BODY_BYTES = 64 * 1024
FRESHNESS_SECONDS = 300
_UNSAFE_XML = re.compile(r"<!\s*(doctype|entity|element|attlist)", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(r"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([^\"']+)", re.IGNORECASE)
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() also takes "²" and 5,000 digits, then fails
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]{1,512}")  # what WeChat sends as nonce and echostr: printable ASCII


class Refused(Exception):
    """The request is not from WeChat, is stale, replayed or malformed: answer 403, store nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, repr=False)
class VerifiedCallback:
    """A decrypted, checked message: the XML WeChat sent and the (timestamp, nonce) to remember."""

    xml: str
    timestamp: str
    nonce: str

    def __repr__(self) -> str:
        return "VerifiedCallback(…)"


def sha1_signature(*parts: str) -> str:
    joined = "".join(sorted(parts)).encode("utf-8", "surrogatepass")  # any text signs; only WeChat's matches
    return hashlib.sha1(joined, usedforsecurity=False).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def check_safe_xml(body: bytes) -> ElementTree.Element:
    """Parses UTF-8 XML that has no DTD, entities or declarations (no expansion bombs, no external
    files). WeChat only sends UTF-8; any other encoding (UTF-16 would hide a DTD from a byte search)
    is refused before parsing."""
    try:
        text = body.decode("utf-8", "strict")
    except UnicodeDecodeError:
        raise Refused("not_utf8") from None
    declared = _DECLARED_ENCODING.match(text)
    if text.startswith("\ufeff") or (declared and declared.group(1).lower().replace("_", "-") != "utf-8"):
        raise Refused("not_utf8")
    if _UNSAFE_XML.search(text):
        raise Refused("xml_declarations")
    try:
        return ElementTree.fromstring(text)  # noqa: S314 - declarations refused above; expat loads nothing external
    except ElementTree.ParseError:
        raise Refused("malformed_xml") from None


class CallbackVerifier:
    def __init__(
        self,
        token: str,
        encoding_aes_key: str | None,
        app_id: str,
        clock: Callable[[], datetime],
        *,
        safe_mode: bool = True,
        freshness_seconds: int = FRESHNESS_SECONDS,
    ) -> None:
        self._token = token
        self._app_id = app_id
        self._clock = clock
        self._safe = safe_mode
        self._freshness = freshness_seconds
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id) if safe_mode and encoding_aes_key else None

    def _fresh(self, query: Mapping[str, str]) -> str:
        timestamp = query.get("timestamp", "")
        if not _TIMESTAMP.fullmatch(timestamp) or abs(self._clock().timestamp() - int(timestamp)) > self._freshness:
            raise Refused("stale_timestamp")
        return timestamp

    @staticmethod
    def _nonce(query: Mapping[str, str]) -> str:
        nonce = query.get("nonce", "")
        if not nonce:
            raise Refused("no_nonce")
        if not _TOKEN_CHARS.fullmatch(nonce):
            raise Refused("bad_nonce")
        return nonce

    def _plain_signature(self, query: Mapping[str, str], timestamp: str) -> None:
        expected = sha1_signature(self._token, timestamp, query.get("nonce", ""))
        if not _same(query.get("signature", ""), expected):
            raise Refused("bad_signature")

    def check_url(self, query: Mapping[str, str]) -> str:
        """The ``echostr`` to answer WeChat's server URL check with, if the request is genuine."""
        timestamp = self._fresh(query)
        self._nonce(query)
        self._plain_signature(query, timestamp)
        echostr = query.get("echostr", "")
        if echostr and not _TOKEN_CHARS.fullmatch(echostr):
            raise Refused("bad_echostr")
        return echostr

    def check_message(self, query: Mapping[str, str], body: bytes) -> VerifiedCallback:
        if len(body) > MAX_BODY_BYTES:
            raise Refused("too_large")
        timestamp = self._fresh(query)
        nonce = self._nonce(query)
        outer = check_safe_xml(body)
        if not self._safe:
            self._plain_signature(query, timestamp)
            return VerifiedCallback(body.decode("utf-8", "strict"), timestamp, nonce)
        if self._crypto is None:
            raise Refused("not_configured")
        encrypted = outer.findtext("Encrypt")
        if not encrypted:
            raise Refused("not_encrypted")
        expected = sha1_signature(self._token, timestamp, nonce, encrypted)
        if not _same(query.get("msg_signature", ""), expected):
            raise Refused("bad_signature")
        try:
            xml = self._crypto.decrypt_message({"Encrypt": encrypted}, expected, timestamp, nonce)
        except InvalidAppIdException:
            raise Refused("wrong_app_id") from None
        except InvalidSignatureException:
            raise Refused("bad_signature") from None
        except Exception:  # padding, base64, UTF-8: anything undecryptable
            raise Refused("undecryptable") from None
        decrypted = xml.encode() if isinstance(xml, str) else bytes(xml)
        check_safe_xml(decrypted)
        return VerifiedCallback(decrypted.decode("utf-8"), timestamp, nonce)

    def encrypt_reply(self, xml: str, nonce: str, timestamp: str) -> str:
        if self._crypto is None:
            return xml
        encrypted: str = self._crypto.encrypt_message(xml, nonce, timestamp)
        return encrypted
