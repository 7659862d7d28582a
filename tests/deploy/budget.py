"""Worst-case time of the states inside the Distributed Map's child executions, from the ASL and the
template alone (no number of this file comes from the definition it checks).

A Task's attempt lasts at most its TimeoutSeconds. Each Retry rule retries up to MaxAttempts
times, and the rules count separately, so the attempts add up to 1 + the sum of every rule's
MaxAttempts. Before the k-th retry of a rule Step Functions waits
IntervalSeconds * BackoffRate^(k-1), capped by MaxDelaySeconds; with JitterStrategy FULL the wait
is drawn between 0 and that, so that is also its maximum. ASL defaults: IntervalSeconds 1,
MaxAttempts 3, BackoffRate 2.0, no MaxDelaySeconds.
(https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXPRESS_LIMIT_SECONDS = 300  # an Express execution runs at most five minutes
MARGIN_SECONDS = 30  # scheduling of the child, the Map's own work, clock skew
LAMBDA_INIT_SECONDS = 10  # Lambda's Init phase has its own 10 s limit, outside the function timeout


@dataclass(frozen=True)
class TaskBudget:
    state: str
    timeout: int
    attempts: int
    backoff: float

    @property
    def worst(self) -> float:
        return self.attempts * self.timeout + self.backoff


def retry_waits(rule: dict[str, Any]) -> list[float]:
    interval = rule.get("IntervalSeconds", 1)
    rate = rule.get("BackoffRate", 2.0)
    cap = rule.get("MaxDelaySeconds")
    waits = [interval * rate**k for k in range(rule.get("MaxAttempts", 3))]
    return [min(w, cap) if cap is not None else w for w in waits]


def task_budget(name: str, state: dict[str, Any]) -> TaskBudget:
    if "TimeoutSeconds" not in state:
        raise ValueError(f"Task {name} has no TimeoutSeconds: its attempts are unbounded")
    rules = state.get("Retry", [])
    return TaskBudget(
        state=name,
        timeout=state["TimeoutSeconds"],
        attempts=1 + sum(r.get("MaxAttempts", 3) for r in rules),
        backoff=sum(sum(retry_waits(r)) for r in rules),
    )


def _successors(state: dict[str, Any]) -> list[str]:
    nxt = [state["Next"]] if "Next" in state else []
    nxt += [c["Next"] for c in state.get("Catch", [])]
    nxt += [c["Next"] for c in state.get("Choices", [])]
    nxt += [state["Default"]] if "Default" in state else []
    return nxt


def longest_path(processor: dict[str, Any]) -> tuple[float, list[TaskBudget]]:
    """The slowest path from StartAt to an end, counting every Task on it at its worst."""
    states = processor["States"]

    def walk(name: str, seen: tuple[str, ...]) -> tuple[float, list[TaskBudget]]:
        if name in seen:
            raise ValueError(f"the ItemProcessor loops through {name}: no bound on its time")
        state = states[name]
        own = [task_budget(name, state)] if state["Type"] == "Task" else []
        best: tuple[float, list[TaskBudget]] = (0.0, [])
        for nxt in _successors(state):
            best = max(best, walk(nxt, (*seen, name)), key=lambda b: b[0])
        return sum(b.worst for b in own) + best[0], own + best[1]

    return walk(processor["StartAt"], ())
