"""bot.heap: what is loaded at start-up leaves the garbage collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.heap import freeze_loaded


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test process as it was


def test_objects_alive_when_frozen_are_not_walked_by_a_full_collection(unfrozen: None) -> None:
    index = {f"term{n}": [n] for n in range(1000)}  # a stand-in for the FAQ index
    gc.collect()
    assert any(obj is index for obj in gc.get_objects(generation=2)), "before: every full pass walks it"
    frozen = freeze_loaded()
    assert frozen >= 1000
    assert not any(obj is index for obj in gc.get_objects(generation=2)), "frozen: a full pass skips it"
    later = {"made": ["after"]}
    gc.collect()
    assert any(obj is later for obj in gc.get_objects(generation=2)), "what comes later is collected as usual"
