"""actwidgets.widgets._netlock: one forward pass at a time per network.

Every interleaving here is made, not hoped for: threads wait on events, and the test knows
a thread is blocked on the lock because the lock's condition variable says so (a
:class:`Watched` condition counts each thread about to wait; that thread holds the
condition's own lock until it is inside ``wait``, so whatever the test does next with the
lock happens while it waits). No sleeps, no timing.
"""

from __future__ import annotations

import gc
import threading

import pytest

from actwidgets.widgets import _netlock
from actwidgets.widgets._netlock import NetworkBusyError, NetworkLock, network_lock


class Watched(threading.Condition):
    """A condition variable that counts the threads about to block in it."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked = threading.Semaphore(0)

    def wait(self, timeout=None):
        if timeout is None or timeout > 0:
            self.blocked.release()
        return super().wait(timeout)


def watched(name: str = "the network") -> tuple[NetworkLock, Watched]:
    lock = NetworkLock(name)
    lock._cond = cond = Watched()
    return lock, cond


class Net:
    """Anything a lock can be kept for: weakly referable, with a ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name


def thread(target, *args) -> threading.Thread:
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def holding(lock: NetworkLock, what: str, release: threading.Event, inside: threading.Event,
            log: list[str]) -> threading.Thread:
    """A thread that holds ``lock`` for ``what`` until ``release`` is set."""

    def run():
        with lock.hold(what, timeout=None):
            log.append(f"{what} in")
            inside.set()
            release.wait()
            log.append(f"{what} out")

    return thread(run)


# --------------------------------------------------------------------------- exclusion


def test_a_second_pass_waits_until_the_first_is_done():
    lock, cond = watched()
    log: list[str] = []
    release, inside = threading.Event(), threading.Event()
    first = holding(lock, "run", release, inside, log)
    inside.wait()
    assert lock.busy() and lock.holder == "run"  # busy for this thread: another holds it

    def second():
        with lock.hold("pass", timeout=None):
            log.append("pass in")

    waiter = thread(second)
    cond.blocked.acquire()  # the second pass is waiting for the lock
    assert log == ["run in"] and lock._waiting == 1
    release.set()
    first.join()
    waiter.join()
    assert log == ["run in", "run out", "pass in"]
    assert not lock.busy() and lock.holder == "" and lock._owner is None and lock._waiting == 0


def test_two_networks_do_not_block_each_other():
    one, two = Net("net one"), Net("net two")
    log: list[str] = []
    release, inside = threading.Event(), threading.Event()
    holder = holding(network_lock(one), "a FeatureVisualizer run", release, inside, log)
    inside.wait()
    try:
        with network_lock(two).hold("an explorer's pass", timeout=0):  # no wait at all
            log.append("two in")
        with pytest.raises(NetworkBusyError, match=r"^net one is busy: a FeatureVisualizer run runs "
                           r"in the background\. Try again when it ends, or press its Stop button\.$"):
            with network_lock(one).hold("an explorer's pass", timeout=0):
                log.append("one in")  # never
    finally:
        release.set()
        holder.join()
    assert log == ["a FeatureVisualizer run in", "two in", "a FeatureVisualizer run out"]


def test_a_waiter_that_gives_up_leaves_no_trace():
    lock, _ = watched("squeezenet")
    release, inside = threading.Event(), threading.Event()
    holder = holding(lock, "run", release, inside, [])
    inside.wait()
    with pytest.raises(NetworkBusyError, match="squeezenet is busy: run runs in the background"):
        with lock.hold("pass", timeout=0):
            pass
    assert lock._waiting == 0 and lock.holder == "run"  # not counted as waiting any more
    assert isinstance(NetworkBusyError("x"), RuntimeError)
    release.set()
    holder.join()
    with lock.hold("pass", timeout=0):  # free again
        assert lock.holder == "pass"


def test_the_holder_may_hold_again_and_lets_go_after_the_outer_hold():
    lock = NetworkLock()
    tried: list[bool] = []

    def try_from_another_thread():
        try:
            with lock.hold("other", timeout=0):
                tried.append(True)
        except NetworkBusyError:
            tried.append(False)

    with lock.hold("outer"):
        with lock.hold("inner", timeout=0):  # its own lock: no wait
            assert lock._depth == 2 and lock.holder == "outer" and not lock.busy()
        assert lock._depth == 1
        thread(try_from_another_thread).join()
    thread(try_from_another_thread).join()
    assert tried == [False, True] and lock._depth == 0


def test_an_error_inside_the_hold_lets_the_network_go():
    lock = NetworkLock()
    with pytest.raises(ZeroDivisionError):
        with lock.hold("a pass that fails"):
            1 / 0
    assert lock._owner is None and lock._depth == 0 and lock.holder == ""
    done: list[str] = []

    def next_pass():
        with lock.hold("next", timeout=0):
            done.append(lock.holder)

    thread(next_pass).join()
    assert done == ["next"]


# --------------------------------------------------------------------------- a long hold


def test_a_long_run_lets_a_waiting_pass_in_between_two_steps():
    lock, cond = watched()
    log: list[str] = []
    step, inside = threading.Event(), threading.Event()

    def run():
        with lock.hold("run", timeout=None):
            with lock.hold("run's own inner call"):
                inside.set()
                step.wait()
                log.append("step 1 done")
                lock.let_others_in()  # the pass goes first, then the run has the lock again
                mine = lock._owner == threading.get_ident()
                log.append(f"step 2: mine={mine}, depth={lock._depth}, holder={lock.holder}")

    def explorer():
        with lock.hold("pass", timeout=None):
            log.append(f"pass: holder={lock.holder}, busy={lock.busy()}")

    runner = thread(run)
    inside.wait()
    waiter = thread(explorer)
    cond.blocked.acquire()  # the explorer's pass waits
    step.set()
    runner.join()
    waiter.join()
    assert log == ["step 1 done", "pass: holder=pass, busy=False",
                   "step 2: mine=True, depth=2, holder=run"]
    assert lock._owner is None and lock._depth == 0


def test_let_others_in_with_nobody_waiting_keeps_the_lock():
    lock = NetworkLock()
    with lock.hold("run"):
        me = threading.get_ident()
        lock.let_others_in()  # returns at once: nobody waits
        assert (lock._owner, lock._depth, lock.holder) == (me, 1, "run")
    lock.let_others_in()  # not the holder: nothing happens
    assert lock._owner is None


def test_let_others_in_from_another_thread_does_nothing():
    lock = NetworkLock()
    release, inside = threading.Event(), threading.Event()
    holder = holding(lock, "run", release, inside, [])
    inside.wait()
    lock.let_others_in()  # this thread does not hold it
    assert lock.busy() and lock.holder == "run"
    release.set()
    holder.join()


def test_every_waiting_pass_goes_before_the_run_takes_the_lock_back():
    lock, cond = watched()
    log: list[str] = []
    step, inside = threading.Event(), threading.Event()

    def run():
        with lock.hold("run", timeout=None):
            inside.set()
            step.wait()
            lock.let_others_in()
            log.append("run again")

    def explorer(name):
        with lock.hold(name, timeout=None):
            log.append(name)

    runner = thread(run)
    inside.wait()
    waiters = [thread(explorer, "a"), thread(explorer, "b")]
    cond.blocked.acquire()
    cond.blocked.acquire()  # both wait
    step.set()
    for t in [runner, *waiters]:
        t.join()
    assert sorted(log[:2]) == ["a", "b"] and log[2] == "run again"


# --------------------------------------------------------------------------- one lock per network


def test_one_lock_per_network_named_after_it_and_gone_with_it():
    one, two = Net("squeezenet"), Net("vgg16")
    assert network_lock(one) is network_lock(one) and network_lock(one) is not network_lock(two)
    assert network_lock(one)._name == "squeezenet"

    class Nameless:
        pass

    assert network_lock(Nameless())._name == "the network"
    before = len(_netlock._LOCKS)
    del one
    gc.collect()
    assert len(_netlock._LOCKS) == before - 1 and two in _netlock._LOCKS


def test_a_real_network_gets_its_lock_by_name():
    import actwidgets as aw

    net = aw.load_model("squeezenet", weights=None)
    lock = network_lock(net)
    assert lock._name == "squeezenet" and network_lock(net) is lock
