"""``hapbot run`` tells glibc to hand big freed buffers (receipt hashes) back to the system."""

from __future__ import annotations

import platform

import pytest

from bot.malloc import return_big_buffers


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt settings are glibc's")
def test_glibc_takes_the_settings() -> None:
    assert return_big_buffers() is True
