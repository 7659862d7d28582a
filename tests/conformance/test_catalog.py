"""The matrix is complete and published as computed: every recording of the subset has its
scenario, each scenario runs the executions its recording holds, and docs/conformance.md shows the
figures these produce."""

from __future__ import annotations

from collections import Counter

from tests.conformance import catalog, harness, recorded, report
from tests.conformance.scenarios import all_scenarios


def test_every_recording_in_the_subset_has_exactly_one_scenario():
    ids = Counter(s.id for s in all_scenarios())
    assert [i for i, n in ids.items() if n > 1] == []
    in_subset = {k for k in recorded.snapshots() if catalog.runs(k)}
    assert in_subset - set(ids) == set(), "recordings in the subset without a scenario"
    assert set(ids) - in_subset == set(), "scenarios of no recording in the subset"


def test_every_scenario_runs_what_was_recorded():
    for scenario in all_scenarios():
        facts = recorded.facts(scenario.id)
        assert {run.key for run in scenario.runs} == harness.recorded_keys(facts), scenario.id


def test_the_document_shows_the_matrix_as_computed():
    text = report.DOC.read_text(encoding="utf-8")
    assert report.document_matrix(text) == report.render(), "run: python -m tests.conformance.report"
