"""The cycle collector kept off the session's long-lived data (ops.heap)."""

from __future__ import annotations

import gc
import weakref

import pytest

from ops.heap import no_cycle_collection, settle


class Node:
    pass


@pytest.fixture
def thawed():
    yield
    gc.unfreeze()
    gc.enable()


def test_the_collector_is_off_inside_and_as_it_was_after(thawed):
    with no_cycle_collection():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with no_cycle_collection():
        pass
    assert not gc.isenabled()  # a caller that had it off keeps it off
    gc.enable()
    with pytest.raises(ValueError), no_cycle_collection():
        raise ValueError
    assert gc.isenabled()


def test_settle_collects_garbage_cycles_and_freezes_what_lives(thawed):
    gc.unfreeze()
    garbage = Node()
    garbage.itself = garbage
    gone = weakref.ref(garbage)
    del garbage
    kept = [Node() for _ in range(100)]
    settle()
    assert gone() is None
    assert gc.get_freeze_count() >= len(kept)
