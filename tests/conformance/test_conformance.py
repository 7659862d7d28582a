"""asl_runner against executions recorded on AWS (see docs/conformance.md).

Each scenario reproduces one snapshot of LocalStack's Step Functions tests, recorded against AWS;
its final output (or Error and Cause) and its history events are compared with the recording.
A diverged scenario asserts that it still diverges: when the runner changes, the matrix must too.
"""

from __future__ import annotations

import pytest

from tests.conformance import harness, recorded
from tests.conformance.scenarios import all_scenarios

SCENARIOS = all_scenarios()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id.split("stepfunctions/v2/", 1)[1] for s in SCENARIOS])
def test_scenario(scenario: harness.Scenario) -> None:
    problems = harness.compare(scenario)
    if scenario.diverged is None:
        assert not problems, recorded.citation(scenario.id) + "\n" + "\n".join(problems)
    else:
        assert problems, f"{scenario.id} is reproduced now: it diverged ({scenario.diverged})"
