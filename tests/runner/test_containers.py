"""FunctionContainers: one environment and one warm state per function in one process."""

import os
import threading

import pytest

from local_runner.containers import FunctionContainers


@pytest.fixture
def containers(monkeypatch):
    harness = {"A_ONLY": "a", "B_ONLY": "b", "SHARED": "s"}
    for key, value in harness.items():
        monkeypatch.setenv(key, value)
    resets = []
    envs = {"A": {"A_ONLY": "a", "SHARED": "s"}, "B": {"B_ONLY": "b", "SHARED": "s"}}
    return FunctionContainers(envs, harness, lambda: resets.append(1)), resets


def test_a_function_sees_its_variables_only_and_the_harness_gets_them_all_back(containers):
    c, _ = containers
    with c.invocation("A"):
        inside = (os.environ.get("A_ONLY"), os.environ.get("B_ONLY"), os.environ.get("SHARED"))
    assert inside == ("a", None, "s")
    assert (os.environ.get("A_ONLY"), os.environ.get("B_ONLY")) == ("a", "b")


def test_a_variable_the_harness_changed_keeps_the_harness_value(containers, monkeypatch):
    c, _ = containers
    monkeypatch.setenv("A_ONLY", "patched")
    with c.invocation("A"):
        assert os.environ["A_ONLY"] == "patched"


def test_cold_when_the_function_changes_warm_when_it_does_not(containers):
    c, resets = containers
    for function in ("A", "A", "B", "B", "A"):
        with c.invocation(function):
            pass
    assert len(resets) == 3  # A (first), B, A again
    c.release()
    with c.invocation("A"):
        pass
    assert len(resets) == 5  # release resets, and the next invocation starts cold


def test_invocations_of_one_function_overlap_and_another_function_waits(containers):
    c, _ = containers
    both_in = threading.Barrier(3, timeout=30)  # two A invocations at once (and this thread), or it breaks
    release_a = threading.Event()
    order = []

    def a():
        with c.invocation("A"):
            both_in.wait()
            release_a.wait(30)
            order.append("A done")

    def b():
        with c.invocation("B"):
            order.append("B ran")

    threads = [threading.Thread(target=a), threading.Thread(target=a)]
    for t in threads:
        t.start()
    both_in.wait()  # both A invocations are in flight together
    entered = threading.Thread(target=b)
    entered.start()
    while c.waiting < 1:  # B has reached the gate and is held there while both A invocations run
        threading.Event().wait(0.001)
    assert order == []
    release_a.set()
    for t in [*threads, entered]:
        t.join(30)
    assert order == ["A done", "A done", "B ran"]
