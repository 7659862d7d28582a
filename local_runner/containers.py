"""One Lambda "container" per function, in one process.

In AWS every function has its own environment variables and its own warm
state. Here functions share a process, so an invocation of function F:

- waits while invocations of another function are in flight (invocations of F
  itself run concurrently: a Distributed Map's children all call one function);
- sees the base environment plus F's own variables only (other functions'
  variables are removed for the call); a variable the harness changed after the
  environment started (a test's monkeypatch) keeps the harness's value;
- starts cold (the layer's singletons are reset) when the previous invocation was
  of another function, warm otherwise.

Between invocations ``os.environ`` holds the harness's view (every function's
variables), for seeding and for tests that read the stack as an operator would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class FunctionContainers:
    def __init__(
        self, environments: dict[str, dict[str, str]], harness: dict[str, str], reset: Callable[[], None]
    ) -> None:
        self.environments = environments
        self.harness = harness  # the values the harness put in os.environ for every function variable
        self.reset = reset
        self._cond = threading.Condition()
        self._active: str | None = None
        self._count = 0
        self.waiting = 0  # invocations waiting for another function's to finish
        self._warm: str | None = None
        self._saved: dict[str, str | None] = {}

    @contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        with self._cond:
            while self._active not in (None, function):
                self.waiting += 1
                self._cond.wait()
                self.waiting -= 1
            if self._active is None:
                self._enter(function)
            self._active = function
            self._count += 1
        try:
            yield
        finally:
            with self._cond:
                self._count -= 1
                if self._count == 0:
                    self._leave()
                    self._cond.notify_all()

    def release(self) -> None:
        """Hand the process back to the harness: the next invocation of any function starts cold."""
        with self._cond:
            while self._active is not None:
                self._cond.wait()
            self._warm = None
            self.reset()

    def _enter(self, function: str) -> None:
        own = self.environments.get(function, {})
        for key, harness_value in self.harness.items():
            current = os.environ.get(key)
            self._saved[key] = current
            if key not in own:
                os.environ.pop(key, None)
            elif current == harness_value:
                os.environ[key] = own[key]
        if self._warm != function:
            self.reset()
            self._warm = function

    def _leave(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()
        self._active = None
