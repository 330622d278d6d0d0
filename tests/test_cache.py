"""actwidgets.cache: the byte-bounded LRU, the networks' views of it, the process budget.

Sizes are given explicitly (``nbytes=``) or read from numpy arrays, and every expected
content below is worked out by hand from the order of the calls. The thread tests make the
interleaving they test (events, a lock held by the test), never a race left to chance.
"""

from __future__ import annotations

import gc
import threading

import numpy as np
import pytest

import actwidgets as aw
from actwidgets import cache
from actwidgets.cache import DEFAULT_CACHE_BYTES, ByteLRU, CacheView, set_cache_budget, shared_cache


def keys(lru: ByteLRU) -> list:
    """The keys from least to most recently used."""
    return list(lru._data)


# --------------------------------------------------------------------------- ByteLRU


def test_the_least_recently_used_entry_goes_first():
    lru = ByteLRU(max_bytes=100)
    for key in "abcd":
        lru.put(key, key, nbytes=25)  # exactly full: 100 of 100
    assert keys(lru) == list("abcd") and lru.nbytes == 100
    assert lru.get("a") == "a"  # now the most recent
    lru.put("e", "e", nbytes=25)  # 125 > 100: "b" is the least recent now
    assert keys(lru) == ["c", "d", "a", "e"] and "b" not in lru
    lru.put("f", "f", nbytes=60)  # 160: "c", "d" and "a" go, in that order, to fit 85
    assert keys(lru) == ["e", "f"] and lru.nbytes == 85


def test_putting_a_key_again_replaces_its_bytes_and_refreshes_it():
    lru = ByteLRU(max_bytes=100)
    lru.put("a", 1, nbytes=40)
    lru.put("b", 2, nbytes=40)
    lru.put("a", 3, nbytes=10)  # 40 + 10, not 40 + 40 + 10
    assert lru.nbytes == 50 and keys(lru) == ["b", "a"] and lru.get("a") == 3
    lru.put("c", 4, nbytes=50)  # exactly 100: nothing goes
    assert keys(lru) == ["b", "a", "c"] and lru.nbytes == 100


def test_an_entry_larger_than_the_budget_is_not_stored_and_its_old_value_goes():
    lru = ByteLRU(max_bytes=100)
    lru.put("a", "small", nbytes=30)
    lru.put("b", "other", nbytes=30)
    lru.put("a", "huge", nbytes=101)
    assert "a" not in lru and keys(lru) == ["b"] and lru.nbytes == 30  # "b" was not evicted for it
    assert lru.get("a", "none") == "none"


def test_sizes_come_from_nbytes_or_the_call():
    lru = ByteLRU(max_bytes=10_000)
    lru.put("array", np.zeros((10, 10), np.float32))  # 400 bytes
    lru.put("told", object(), nbytes=7)
    assert lru.nbytes == 407 and len(lru) == 2
    with pytest.raises(TypeError, match=r"cannot tell the size of a dict: pass nbytes= to ByteLRU.put"):
        lru.put("dict", {})
    with pytest.raises(ValueError, match=r"nbytes must be a number of bytes >= 0, got -1"):
        lru.put("negative", b"", nbytes=-1)
    assert lru.nbytes == 407 and "dict" not in lru and "negative" not in lru


def test_hits_and_misses_are_counted():
    lru = ByteLRU(max_bytes=100)
    lru.put("a", 0, nbytes=1)  # a stored 0 is a hit, not the default
    assert lru.get("a") == 0 and lru.get("b") is None and lru.get("a", "x") == 0
    assert (lru.hits, lru.misses) == (2, 1)
    assert repr(lru) == "ByteLRU(1 entries, 0.0 of 0 MiB, 2 hits, 1 misses)"


def test_drop_and_clear_keep_the_byte_count_exact():
    lru = ByteLRU(max_bytes=1_000)
    for i in range(10):
        lru.put(i, i, nbytes=i + 1)  # 1 + 2 + ... + 10 = 55
    assert lru.nbytes == 55
    lru.drop(lambda key: key % 2 == 0)  # the odd keys go: 2 + 4 + ... + 10 = 30 left
    assert keys(lru) == [0, 2, 4, 6, 8] and lru.nbytes == 1 + 3 + 5 + 7 + 9
    lru.clear()
    assert len(lru) == 0 and lru.nbytes == 0
    lru.put("after", 1, nbytes=1_000)  # the whole budget is free again
    assert lru.nbytes == 1_000


def test_a_smaller_budget_evicts_the_least_recent_until_the_rest_fits():
    lru = ByteLRU(max_bytes=100)
    for key in "abcd":
        lru.put(key, key, nbytes=25)
    lru.get("a")  # order: b c d a
    lru.resize(60)
    assert keys(lru) == ["d", "a"] and lru.nbytes == 50 and lru.max_bytes == 60
    lru.resize(1_000)  # a larger budget brings nothing back and keeps everything
    assert keys(lru) == ["d", "a"]
    lru.resize(0)  # caching off
    assert len(lru) == 0 and lru.nbytes == 0
    lru.put("x", 1, nbytes=1)
    assert "x" not in lru


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True, None])
def test_a_budget_that_is_no_byte_count_is_refused(bad):
    with pytest.raises(ValueError, match=r"max_bytes must be a non-negative int, got "):
        ByteLRU(bad)
    lru = ByteLRU(10)
    with pytest.raises(ValueError, match=r"max_bytes must be a non-negative int"):
        lru.resize(bad)
    assert lru.max_bytes == 10


# --------------------------------------------------------------------------- CacheView


def test_views_share_one_budget_but_not_their_keys():
    lru = ByteLRU(max_bytes=100)
    a, b = CacheView(lru), CacheView(lru)
    a.put("x", "a's", nbytes=30)
    b.put("x", "b's", nbytes=50)
    assert a.get("x") == "a's" and b.get("x") == "b's"
    assert (len(a), a.nbytes, len(b), b.nbytes, lru.nbytes) == (1, 30, 1, 50, 80)
    b.put("y", "b's too", nbytes=40)  # 120 > 100: a's "x" is the least recent of all
    assert "x" not in a and a.nbytes == 0 and b.nbytes == 90
    assert a.get("x") is None and (a.hits, a.misses) == (1, 1) and (b.hits, b.misses) == (1, 0)


def test_clearing_a_view_leaves_the_others_entries():
    lru = ByteLRU(max_bytes=100)
    a, b = CacheView(lru), CacheView(lru)
    a.put(1, "a", nbytes=10)
    a.put(2, "a", nbytes=10)
    b.put(1, "b", nbytes=5)
    lru.put("plain key", "no owner", nbytes=1)
    a.clear()
    assert len(a) == 0 and b.get(1) == "b" and lru.nbytes == 6 and "plain key" in lru


def test_a_gone_view_takes_its_entries_with_it():
    lru = ByteLRU(max_bytes=100)
    keep, gone = CacheView(lru), CacheView(lru)
    keep.put("k", "stays", nbytes=10)
    gone.put("k", "goes", nbytes=20)
    del gone
    gc.collect()
    assert lru.nbytes == 10 and len(lru) == 1 and keep.get("k") == "stays"


def test_the_default_view_lives_in_the_shared_cache():
    assert CacheView().lru is shared_cache()
    net = aw.load_model("squeezenet", weights=None)
    assert net.cache.lru is shared_cache()


# --------------------------------------------------------------------------- the budget


@pytest.fixture
def restore_budget():
    before = shared_cache().max_bytes
    yield
    shared_cache().resize(before)


def test_set_cache_budget_resizes_the_shared_cache(restore_budget):
    view = CacheView()
    view.put("a", "a", nbytes=3 * 2**20)
    view.put("b", "b", nbytes=3 * 2**20)
    set_cache_budget(5)  # megabytes: only the most recent 3 MiB fit
    assert shared_cache().max_bytes == 5 * 2**20 and "a" not in view and "b" in view
    set_cache_budget(0.5)
    assert shared_cache().max_bytes == 2**19 and len(view) == 0
    set_cache_budget(0)
    view.put("c", "c", nbytes=1)
    assert "c" not in view  # caching is off


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "256", True, None])
def test_set_cache_budget_refuses_what_is_no_budget(bad, restore_budget):
    before = shared_cache().max_bytes
    with pytest.raises(ValueError, match=r"the cache budget is a number of megabytes >= 0, got "):
        set_cache_budget(bad)
    assert shared_cache().max_bytes == before


@pytest.mark.parametrize("text, expected", [
    ("", DEFAULT_CACHE_BYTES), ("64", 64 * 2**20), (" 0.5 ", 2**19), ("0", 0),
])
def test_the_environment_sets_the_first_budget(monkeypatch, text, expected):
    monkeypatch.setenv("ACTWIDGETS_CACHE_MB", text)
    assert cache._budget_from_env() == expected


@pytest.mark.parametrize("text", ["-1", "inf", "nan", "lots"])
def test_an_environment_budget_that_is_none_warns_and_gives_the_default(monkeypatch, text):
    """Before: -1 and inf made ``import actwidgets`` itself fail (ValueError, OverflowError)."""
    monkeypatch.setenv("ACTWIDGETS_CACHE_MB", text)
    with pytest.warns(RuntimeWarning, match=rf"ACTWIDGETS_CACHE_MB='{text}' is not a number of "
                      r"megabytes >= 0; the default budget of 512 MiB is used"):
        assert cache._budget_from_env() == DEFAULT_CACHE_BYTES


# --------------------------------------------------------------------------- threads


def test_the_lock_is_held_for_the_whole_of_drop():
    """``drop`` calls ``keep`` under the lock: while it runs, another thread's put cannot
    start (a non-blocking acquire from that thread fails), so nothing changes mid-scan."""
    lru = ByteLRU(max_bytes=100)
    lru.put("a", 1, nbytes=1)
    seen = []

    def keep(key):
        other = threading.Thread(target=lambda: seen.append(lru._lock.acquire(blocking=False)))
        other.start()
        other.join()
        return True

    lru.drop(keep)
    assert seen == [False]
    assert lru._lock.acquire(blocking=False)  # and let go afterwards
    lru._lock.release()


def test_a_put_waits_for_a_holder_and_then_counts_exactly():
    """One thread holds the cache's lock; another's put waits for it (it has not landed
    while the lock is held, whatever the scheduler does), then lands with exact bytes."""
    lru = ByteLRU(max_bytes=100)
    lru.put("old", 0, nbytes=90)
    started, done = threading.Event(), threading.Event()

    def writer():
        started.set()
        lru.put("new", 1, nbytes=20)  # 110 > 100: evicts "old"
        done.set()

    lru._lock.acquire()
    try:
        thread = threading.Thread(target=writer)
        thread.start()
        started.wait()
        assert not done.is_set() and keys(lru) == ["old"]  # it cannot pass the held lock
    finally:
        lru._lock.release()
    thread.join()
    assert done.is_set() and keys(lru) == ["new"] and lru.nbytes == 20


def test_many_threads_keep_the_byte_count_exact():
    """Eight threads put, get and drop at once, released together by a barrier; whatever
    the interleaving, the count equals the sum of what is stored and stays in budget."""
    lru = ByteLRU(max_bytes=5_000)
    barrier = threading.Barrier(8)

    def work(t):
        barrier.wait()
        for i in range(300):
            lru.put((t, i % 40), i, nbytes=(t * 7 + i) % 97 + 1)
            lru.get((t - 1, i % 40))
            if i % 50 == 49:
                lru.drop(lambda key, t=t: key[0] != t or key[1] % 2)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert lru.nbytes == sum(size for _, size in lru._data.values()) <= 5_000


def _garbage_view(lru: ByteLRU) -> None:
    """A view reachable only from a reference cycle, as a network is: only the cyclic
    garbage collector frees it, at whatever allocation it happens to run."""
    class Owner:
        pass

    owner = Owner()
    owner.me, owner.cache = owner, CacheView(lru)
    owner.cache.put("k", "v", nbytes=10)


def _without_deadlock(action) -> None:
    """Run ``action`` in a thread; a deadlock fails the test instead of hanging it."""
    errors: list[BaseException] = []

    def run():
        try:
            action()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)  # a guard against a hang, not a timing measure: the action takes ms
    assert not thread.is_alive(), "deadlock: a view's finaliser waited for a lock its own thread held"
    assert not errors, errors


def test_a_view_finalised_while_its_thread_holds_the_lock_does_not_deadlock():
    """The garbage collector can run inside ``put`` (any allocation may start it) and
    finalise a gone network's view there. Before: the finaliser waited for the lock its
    own thread held, for ever. Now its entries go when the lock is let go."""
    lru = ByteLRU(max_bytes=100)
    keep = CacheView(lru)
    keep.put("k", "stays", nbytes=1)
    gc.collect()
    gc.disable()
    try:
        _garbage_view(lru)
        assert lru.nbytes == 11

        def collect_inside_the_lock():
            with lru._locked():
                gc.collect()  # what an allocation inside put may do
                assert len(lru._gone) == 1  # queued, not waited for

        _without_deadlock(collect_inside_the_lock)
    finally:
        gc.enable()
    assert lru.nbytes == 1 and keep.get("k") == "stays"


def test_clearing_a_value_that_holds_the_last_reference_to_a_view_does_not_deadlock():
    """Before: ``clear`` freed the value under the lock, the value freed its view, and the
    view's finaliser waited for that lock for ever."""
    lru = ByteLRU(max_bytes=100)

    class Holder:
        pass

    holder = Holder()
    holder.view = CacheView(lru)
    holder.view.put("inner", "x", nbytes=5)
    lru.put("holder", holder, nbytes=1)
    del holder
    _without_deadlock(lru.clear)
    assert len(lru) == 0 and lru.nbytes == 0


def test_a_view_finalised_in_another_thread_while_the_lock_is_held_is_dropped_after():
    lru = ByteLRU(max_bytes=100)
    view = CacheView(lru)
    view.put("k", "v", nbytes=10)
    token = view._token
    with lru._locked():
        finaliser = threading.Thread(target=lru._owner_gone, args=(token,))
        finaliser.start()
        finaliser.join()  # it returned without the lock: it only queued the token
        assert lru._data and lru._gone == [token]
    assert lru.nbytes == 0 and not lru._gone
