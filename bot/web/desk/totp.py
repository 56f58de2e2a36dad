"""The desk's second factor: time-based one-time codes (RFC 6238: HMAC-SHA1, 6 digits, 30 s).

Any authenticator app reads the ``otpauth://`` address from the QR code, which the desk draws
itself as inline SVG (``segno``): the secret never leaves the server for a QR service. A code is
accepted for the current step and one step either side (phone clocks drift), and only for a step
later than the last one accepted (the caller stores it), so each code signs in once.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno

STEP_SECONDS = 30
DIGITS = 6
ISSUER = "HAP Bot"


def new_secret() -> str:
    """A fresh 160-bit secret, base32 (what authenticator apps expect)."""
    return str(pyotp.random_base32(32))


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def code_at(secret: str, moment: datetime) -> str:
    """The code an authenticator shows at ``moment`` (tests use it as the phone)."""
    return str(pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(moment))


def matching_step(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step ``code`` belongs to (now, or one step either side) if later than ``last_step``;
    None otherwise. Every candidate is compared in constant time."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = step_of(now)
    found = None
    for step in (current - 1, current, current + 1):
        expected = str(totp.generate_otp(step))
        if hmac.compare_digest(expected.encode(), code.encode()) and step > last_step:
            found = step
    return found


def provisioning_uri(secret: str, account_name: str) -> str:
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    return str(totp.provisioning_uri(name=account_name, issuer_name=ISSUER))


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline ``<svg>`` element (no script, no outside resource)."""
    return str(segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff"))


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it into an app by hand."""
    return " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))
