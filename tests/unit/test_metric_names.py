"""Metric names say where they come from: no two functions emit the same metric
name (CloudWatch would sum them into one series and count rows twice), and every metric of the
application's namespace that an alarm or the dashboard reads is one a function emits."""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path

from local_runner.template import load_template

ROOT = Path(__file__).resolve().parents[2]


def emitted() -> dict[str, set[str]]:
    """Metric name -> the functions whose handler emits it (``add_metric(name="...")``)."""
    found: dict[str, set[str]] = defaultdict(set)
    for app in sorted((ROOT / "functions").glob("*/app.py")):
        for node in ast.walk(ast.parse(app.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                        found[keyword.value.value].add(app.parent.name)
    return found


def test_no_metric_name_is_emitted_by_two_functions():
    names = emitted()
    assert {"WorkerRowsApplied", "RunRowsApplied", "RunEnded"} <= set(names)  # the scan sees the handlers
    assert {name: fns for name, fns in names.items() if len(fns) > 1} == {}


def test_every_application_metric_an_alarm_or_the_dashboard_reads_is_emitted():
    template = load_template(ROOT / "template.yaml")
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    read: set[str] = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            metrics = (
                [props]
                if "MetricName" in props
                else [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
            )
            read |= {m["MetricName"] for m in metrics if m.get("Namespace") == namespace}
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = json.dumps(props)
            read |= set(re.findall(rf'\\"{namespace}\\", \\"(\w+)\\"', body))
    assert read, "no alarm or widget reads the application's namespace: the scan is broken"
    assert read - set(emitted()) == set()
