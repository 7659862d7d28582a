"""Alarms and dashboard widgets read AWS's metrics the way AWS publishes them: RDS Proxy's
connection counts summed over the proxy's nodes, and the account's open Map Runs (dimensionless,
Maximum) against the 1,000 that Step Functions allows."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.deploy.conftest import TEMPLATE

RES = TEMPLATE["Resources"]


def _stats(alarm: str) -> dict[str, dict[str, Any]]:
    return {m["Id"]: m["MetricStat"] for m in RES[alarm]["Properties"]["Metrics"] if "MetricStat" in m}


def _widget(title_start: str) -> dict[str, Any]:
    body = RES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "0", body))["widgets"]  # a number fits every place
    (widget,) = [w for w in widgets if w["properties"]["title"].startswith(title_start)]
    return dict(widget["properties"])


def _rows(widget: dict[str, Any]) -> list[list[Any]]:
    """The widget's metric rows with "." expanded as CloudWatch expands it (the row above's item)."""
    rows: list[list[Any]] = []
    for row in widget["metrics"]:
        names = [item for item in row if not isinstance(item, dict)]
        if rows and names and names[0] != "...":
            names = [rows[-1][i] if item == "." else item for i, item in enumerate(names)]
        rows.append(names)
    return rows


def test_the_proxy_saturation_alarm_sums_connections_and_allowance_over_the_proxy_nodes():
    stats = _stats("ProxySaturationAlarm")
    used, allowed = stats["used"], stats["allowed"]
    assert (used["Metric"]["MetricName"], allowed["Metric"]["MetricName"]) == (
        "DatabaseConnections",
        "MaxDatabaseConnectionsAllowed",
    )
    assert used["Stat"] == allowed["Stat"] == "Sum"  # not Maximum over Minimum of per-node values
    assert used["Period"] == allowed["Period"] == 60  # both reported every minute
    assert used["Metric"]["Dimensions"] == allowed["Metric"]["Dimensions"]
    (expression,) = [m for m in RES["ProxySaturationAlarm"]["Properties"]["Metrics"] if m.get("ReturnData")]
    assert expression["Expression"] == "100 * used / allowed"


def test_the_connections_widget_sums_over_the_proxy_nodes_and_shows_the_allowance():
    widget = _widget("Database connections")
    assert widget["stat"] == "Sum" and widget["period"] == 60
    assert all(not isinstance(i, dict) or i.get("stat", "Sum") == "Sum" for row in widget["metrics"] for i in row)
    rows = {row[1]: row[2:] for row in _rows(widget)}
    assert {"ClientConnections", "DatabaseConnections", "MaxDatabaseConnectionsAllowed"} <= set(rows)
    alarm_dims = _stats("ProxySaturationAlarm")["used"]["Metric"]["Dimensions"]
    names = [d["Name"] for d in alarm_dims]
    assert rows["DatabaseConnections"][0::2] == rows["MaxDatabaseConnectionsAllowed"][0::2] == names


def test_the_open_map_runs_alarm_warns_before_the_account_quota():
    # "ApproximateOpenMapRunCount: Approximate number of currently open Map Runs in progress in your
    # account ... we recommend using the Maximum statistic"; a dimensionless AWS/States metric.
    alarm = RES["OpenMapRunsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/States", "ApproximateOpenMapRunCount")
    assert "Dimensions" not in alarm and alarm["Statistic"] == "Maximum"
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == {"Ref": "OpenMapRunAlarmThreshold"} and alarm["AlarmActions"] == [
        {"Ref": "AlertTopic"}
    ]
    threshold = TEMPLATE["Parameters"]["OpenMapRunAlarmThreshold"]
    assert threshold["Type"] == "Number" and threshold["MaxValue"] == 1000  # the OpenMapRunLimit quota
    assert 0 < threshold["MinValue"] <= threshold["Default"] < 1000


def test_the_dashboard_shows_the_open_map_runs_against_their_limit():
    widget = _widget("Open Map Runs")
    rows = _rows(widget)
    assert widget["stat"] == "Maximum"
    assert [row[:2] for row in rows] == [
        ["AWS/States", "ApproximateOpenMapRunCount"],
        ["AWS/States", "OpenMapRunLimit"],
        ["AWS/States", "ApproximateMapRunBacklogSize"],
    ]
    assert all(len(row) == 2 for row in rows)  # no dimension: the account's
