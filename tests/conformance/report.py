"""The conformance matrix of docs/conformance.md, computed from the catalog and the scenarios.

    python -m tests.conformance.report     # rewrites the matrix between its markers in docs/conformance.md

``test_catalog`` checks that the document holds what this computes: the figures cannot go stale.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.conformance import catalog, recorded
from tests.conformance.harness import Scenario
from tests.conformance.scenarios import all_scenarios

DOC = Path(__file__).resolve().parents[2] / "docs" / "conformance.md"
BEGIN, END = "<!-- matrix:begin (python -m tests.conformance.report) -->", "<!-- matrix:end -->"


@dataclass(frozen=True)
class Figures:
    total: int
    run: int
    run_validated: int
    reproduced: int
    reproduced_validated: int
    diverged: int
    unsupported: int
    unsupported_validated: int
    not_counted: int


def _code(text: str) -> str:
    """``text`` as inline code in a table cell (a snapshot id may hold ` and |)."""
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _test_of(test_id: str) -> str:
    """The test function of a snapshot id (its parameters left out), after .../stepfunctions/v2/."""
    return test_id.removeprefix(catalog.ROOT + "v2/").split("[", 1)[0]


def figures() -> Figures:
    snapshots = recorded.snapshots()
    scenarios = all_scenarios()
    validated = {k for k, v in snapshots.items() if v["validated"]}
    diverged = {s.id for s in scenarios if s.diverged}
    run = {s.id for s in scenarios}
    unsupported = {k for k in snapshots if catalog.not_counted(k) is None and catalog.unsupported_reason(k)}
    return Figures(
        total=len(snapshots),
        run=len(run),
        run_validated=len(run & validated),
        reproduced=len(run - diverged),
        reproduced_validated=len((run - diverged) & validated),
        diverged=len(diverged),
        unsupported=len(unsupported),
        unsupported_validated=len(unsupported & validated),
        not_counted=sum(1 for k in snapshots if catalog.not_counted(k)),
    )


def _dates(ids: list[str]) -> str:
    snapshots = recorded.snapshots()
    dates = sorted(str(snapshots[i]["validated"])[:10] for i in ids if snapshots[i]["validated"])
    never = sum(1 for i in ids if not snapshots[i]["validated"])
    shown = (dates[0] if dates[0] == dates[-1] else f"{dates[0]} – {dates[-1]}") if dates else ""
    return shown + (f"{'; ' if shown else ''}{never} never validated" if never else "")


def _reproduced(scenarios: list[Scenario]) -> list[str]:
    """Every reproduced snapshot id with its date, one collapsible table per LocalStack test file."""
    snapshots = recorded.snapshots()
    by_file: dict[str, list[str]] = defaultdict(list)
    for scenario in scenarios:
        if not scenario.diverged:
            by_file[_test_of(scenario.id).split("::", 1)[0]].append(scenario.id)
    rows = []
    for file, ids in sorted(by_file.items()):
        rows += [f"<details><summary><code>{file}</code>: {len(ids)} reproduced</summary>", ""]
        rows += ["| snapshot id | validated (recorded) |", "|---|---|"]
        for test_id in sorted(ids):
            entry = snapshots[test_id]
            validated = str(entry["validated"])[:10] if entry["validated"] else "never"
            rows.append(f"| {_code(test_id.split('::', 1)[1])} | {validated} ({entry['recorded'][:10]}) |")
        rows += ["", "</details>", ""]
    return rows


def _diverged(scenarios: list[Scenario]) -> list[str]:
    rows = ["| snapshot id | validated | why it differs |", "|---|---|---|"]
    for scenario in sorted((s for s in scenarios if s.diverged), key=lambda s: s.id):
        rows.append(
            f"| {_code(scenario.id.removeprefix(catalog.ROOT + 'v2/'))} | {_dates([scenario.id])} | {scenario.diverged} |"
        )
    return rows


def _unsupported() -> list[str]:
    snapshots = recorded.snapshots()
    by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    for test_id in snapshots:
        reason = catalog.unsupported_reason(test_id) if catalog.not_counted(test_id) is None else None
        if reason:
            by_reason[reason][_test_of(test_id)] += 1
    rows = ["| outside the subset | recordings | tests |", "|---|---|---|"]
    for reason, tests in sorted(by_reason.items(), key=lambda item: -sum(item[1].values())):
        listed = ", ".join(f"{_code(t)} ({n})" if n > 1 else _code(t) for t, n in sorted(tests.items()))
        rows.append(f"| {reason} | {sum(tests.values())} | {listed} |")
    return rows


def _not_counted() -> list[str]:
    snapshots = recorded.snapshots()
    rows = ["| snapshot key | why it is not counted |", "|---|---|"]
    for test_id in sorted(snapshots):
        reason = catalog.not_counted(test_id)
        if reason:
            rows.append(f"| {_code(test_id)} | {reason} |")
    return rows


def render() -> str:
    f = figures()
    scenarios = all_scenarios()
    source = recorded.load()["source"]
    lines = [
        BEGIN,
        "",
        (
            f"**{f.reproduced} of {f.run} recorded scenarios in the supported subset reproduced** "
            f"({f.reproduced_validated} of the {f.run_validated} validated against AWS; the other "
            f"{f.run - f.run_validated} were recorded against AWS and never validated since); "
            f"{f.diverged} diverged, each with its reason; {f.unsupported} recorded scenarios outside the subset "
            f"({f.unsupported_validated} of them validated), counted and not run; {f.not_counted} snapshot keys not "
            f"counted. {f.total} snapshot ids in all, from {source['repository']} at commit `{source['commit'][:12]}`."
        ),
        "",
        "### Reproduced",
        "",
        "Each id below is `tests/aws/services/stepfunctions/v2/<file>::<class>::<test>`.",
        "",
        *_reproduced(scenarios),
        "",
        "### Diverged",
        "",
        *_diverged(scenarios),
        "",
        "### Unsupported (counted, not run)",
        "",
        *_unsupported(),
        "",
        "### Not counted",
        "",
        *_not_counted(),
        "",
        END,
    ]
    return "\n".join(lines)


def document_matrix(text: str) -> str:
    """The matrix as docs/conformance.md holds it."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(text.replace(document_matrix(text), render()), encoding="utf-8")
    print(f"{DOC}: {figures()}")


if __name__ == "__main__":
    main()
