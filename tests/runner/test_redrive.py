"""Redrive (``Execution.redrive``): continue a failed execution from its first unsuccessful
state; a Distributed Map runs again only the children that did not succeed.

The oracle is the child handler's own log of which items it saw, and the items in the file:
every item must be in exactly one SUCCEEDED record of the final manifest, and a redrive must
invoke the handler only for items of batches that had not succeeded."""

import json
import threading

import pytest

from asl_runner import Execution, LocalServices, RunOptions
from asl_runner.redrive import Checkpoint, NotRedrivable
from tests.runner.conftest import ACCOUNT, REGION, machine, read_json

FN = "arn:aws:lambda:ap-northeast-1:123456789012:function:child"
AFTER = "arn:aws:lambda:ap-northeast-1:123456789012:function:after"


class Child:
    """Fails every batch holding an item id in ``bad`` (while ``broken``); records what it saw."""

    def __init__(self, bad):
        self.bad, self.broken = set(bad), True
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, event, context):
        ids = [item["id"] for item in event["Items"]]
        with self.lock:
            self.seen += ids
        if self.broken and self.bad & set(ids):
            raise RuntimeError(f"cannot process {sorted(self.bad & set(ids))}")
        return {"n": len(ids)}


def after(event, context):
    return {"after": True, "redriveCount": event["redriveCount"], "start": event["start"]}


def definition(tolerated=0, catch=False, writer=True):
    dmap = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
        },
        "ItemBatcher": {"MaxItemsPerBatch": 3},
        "MaxConcurrency": 1,
        "ToleratedFailureCount": tolerated,  # a count stops the map as soon as it is exceeded
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Work",
            "States": {"Work": {"Type": "Task", "Resource": FN, "End": True}},
        },
        "ResultPath": "$.map",
        "Next": "After",
    }
    if writer:
        dmap["ResultWriter"] = {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "out-bucket", "Prefix": "results"},
        }
    if catch:
        dmap["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Outcome"}]
    states = {
        "Prepare": {"Type": "Pass", "Result": "prepared", "ResultPath": "$.prepared", "Next": "Map"},
        "Map": dmap,
        "After": {
            "Type": "Task",
            "Resource": AFTER,
            "Parameters": {"redriveCount.$": "$$.Execution.RedriveCount", "start.$": "$$.Execution.StartTime"},
            "ResultPath": "$.after",
            "Next": "Outcome",
        },
        "Outcome": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.error", "IsPresent": True, "Next": "Failed"}],
            "Default": "Done",
        },
        "Failed": {"Type": "Fail", "Error": "MapFailed", "Cause": "the map failed"},
        "Done": {"Type": "Succeed"},
    }
    return machine(states, start="Prepare")


def execution(definition, child, name="exec-1"):
    services = LocalServices({FN: child, AFTER: after}, region=REGION, account=ACCOUNT)
    return Execution(
        definition, services, name=name, state_machine_name="sm", options=RunOptions(region=REGION, account=ACCOUNT)
    )


def put_items(s3, n):
    s3.put_object(Bucket="in-bucket", Key="items.csv", Body=("id\n" + "".join(f"i{k}\n" for k in range(n))).encode())
    return {"bucket": "in-bucket", "key": "items.csv"}


def succeeded_items(s3, output_or_key):
    key = output_or_key if isinstance(output_or_key, str) else output_or_key["ResultWriterDetails"]["Key"]
    manifest = read_json(s3, "out-bucket", key)
    items = []
    for entry in manifest["ResultFiles"]["SUCCEEDED"]:
        for record in read_json(s3, "out-bucket", entry["Key"]):
            items += [item["id"] for item in json.loads(record["Input"])["Items"]]
    return items, manifest


def test_a_redriven_map_runs_only_the_failed_and_pending_children(s3):
    inp = put_items(s3, 20)  # batches of 3: i0-2, i3-5, ..., i18-19 (7 batches)
    child = Child(bad={"i7"})  # the third batch fails; no tolerance: the map stops there
    first = execution(definition(), child).run(inp)
    assert first.status == "FAILED" and first.error == "States.ExceedToleratedFailureThreshold"
    assert child.seen == [f"i{k}" for k in range(9)]  # MaxConcurrency 1: batches 1-3 ran, then it stopped
    checkpoint = Checkpoint.from_json(json.loads(json.dumps(first.checkpoint.to_json())))  # as kept on disk
    assert [(v.state, v.exited) for v in checkpoint.visits] == [("Prepare", True), ("Map", False)]
    assert [(u.first, u.count) for u in checkpoint.map_runs["Map"].succeeded] == [(0, 3), (3, 3)]

    child.broken, child.seen = False, []
    again = execution(definition(), child).redrive(checkpoint)

    assert again.status == "SUCCEEDED", again.cause
    assert child.seen == [f"i{k}" for k in range(6, 20)]  # the failed batch and the pending ones only
    items, manifest = succeeded_items(s3, again.output["map"])
    assert sorted(items, key=lambda i: int(i[1:])) == [f"i{k}" for k in range(20)]  # every item once
    assert manifest["ResultFiles"]["FAILED"] == []
    assert again.output["map"]["MapRunArn"] == first.map_runs[0]["mapRunArn"]  # the same Map Run
    assert again.output["prepared"] == "prepared"  # Prepare's output carried, Prepare not run again
    assert again.output["after"]["redriveCount"] == 1
    assert again.output["after"]["start"] == checkpoint.start_time  # StartTime is the original's
    assert again.map_runs[0]["carriedOverBatches"] == 2
    assert again.history_events > first.history_events  # the history adds up across attempts


def test_a_map_that_fails_again_keeps_what_succeeded_for_the_next_redrive(s3):
    inp = put_items(s3, 12)  # 4 batches
    child = Child(bad={"i4", "i10"})
    first = execution(definition(tolerated=100), child).run(inp)
    assert first.status == "SUCCEEDED"  # within tolerance: the map succeeded with 2 failed children
    with pytest.raises(NotRedrivable, match="SUCCEEDED"):
        execution(definition(tolerated=100), child).redrive(first.checkpoint)

    child.seen = []
    strict = execution(definition(tolerated=0), child).run(inp)
    assert strict.status == "FAILED"
    child.bad, child.seen = {"i10"}, []  # one of the two faults is mended
    second = execution(definition(tolerated=0), child).redrive(strict.checkpoint)
    assert second.status == "FAILED"
    assert child.seen == [f"i{k}" for k in range(3, 12)]  # from the first failed batch on
    assert [(u.first, u.count) for u in second.checkpoint.map_runs["Map"].succeeded] == [(0, 3), (3, 3), (6, 3)]
    assert second.checkpoint.redrive_count == 1

    child.broken, child.seen = False, []
    third = execution(definition(tolerated=0), child).redrive(second.checkpoint)
    assert third.status == "SUCCEEDED", third.cause
    assert child.seen == ["i9", "i10", "i11"]
    assert third.output["after"]["redriveCount"] == 2
    items, _ = succeeded_items(s3, third.output["map"])
    assert sorted(items, key=lambda i: int(i[1:])) == [f"i{k}" for k in range(12)]


def test_a_caught_map_has_exited_and_a_redrive_reenters_the_fail_state(s3):
    """AWS records a caught Map as MapStateFailed, MapStateExited, <Catch target>Entered
    (LocalStack's test_map_state_catch, recorded against AWS): the restart point is the Fail
    state the Catch led to, and a redrive "reenters the Fail state and fails again"."""
    inp = put_items(s3, 6)
    child = Child(bad={"i5"})
    first = execution(definition(catch=True), child).run(inp)
    assert first.status == "FAILED" and first.error == "MapFailed"
    assert [(v.state, v.exited) for v in first.checkpoint.visits] == [
        ("Prepare", True),
        ("Map", True),  # caught: it has exited
        ("Outcome", True),
        ("Failed", False),
    ]
    assert first.checkpoint.restart_point()[1].state == "Failed"
    child.broken, child.seen = False, []
    again = execution(definition(catch=True), child).redrive(first.checkpoint)
    assert again.status == "FAILED" and again.error == "MapFailed"  # fails again at once
    assert child.seen == []  # no child ran again: the mended fault changes nothing


def test_without_a_result_writer_the_outputs_of_succeeded_children_are_kept(s3):
    inp = put_items(s3, 9)
    child = Child(bad={"i8"})
    first = execution(definition(writer=False), child).run(inp)
    assert first.status == "FAILED"
    child.broken, child.seen = False, []
    again = execution(definition(writer=False), child).redrive(Checkpoint.from_json(first.checkpoint.to_json()))
    assert again.status == "SUCCEEDED", again.cause
    assert child.seen == ["i6", "i7", "i8"]
    assert again.output["map"] == [{"n": 3}, {"n": 3}, {"n": 3}]


def test_a_redrive_with_changed_items_is_refused_not_doubled(s3):
    inp = put_items(s3, 9)
    child = Child(bad={"i8"})
    first = execution(definition(), child).run(inp)
    # the object the map reads was replaced: its first batch no longer lines up
    s3.put_object(Bucket="in-bucket", Key="items.csv", Body=b"id\ni0\ni1\n")
    child.broken, child.seen = False, []
    again = execution(definition(), child).redrive(first.checkpoint)
    assert again.status == "FAILED"
    assert again.error == "States.Runtime"  # which States.ALL does not catch
    assert "changed since the earlier attempt" in again.cause
    assert child.seen == []


def test_what_cannot_be_redriven_says_why(s3):
    with pytest.raises(NotRedrivable, match="not an execution checkpoint: start_time"):
        Checkpoint.from_json({"name": "x", "state_machine_name": "sm", "status": "FAILED"})
    inp = put_items(s3, 3)
    child = Child(bad={"i0"})
    first = execution(definition(), child).run(inp)
    with pytest.raises(NotRedrivable, match="not sm:other"):
        execution(definition(), child, name="other").redrive(first.checkpoint)
    everything_exited = first.checkpoint.model_copy(
        update={"visits": [v.model_copy(update={"exited": True}) for v in first.checkpoint.visits]}
    )
    with pytest.raises(NotRedrivable, match="nothing to redrive"):
        execution(definition(), child).redrive(everything_exited)


def test_a_redrive_that_fails_before_any_child_keeps_the_earlier_record(s3):
    inp = put_items(s3, 9)
    child = Child(bad={"i8"})
    first = execution(definition(), child).run(inp)
    body = s3.get_object(Bucket="in-bucket", Key="items.csv")["Body"].read()
    s3.delete_object(Bucket="in-bucket", Key="items.csv")  # the items are away: the reader fails
    child.broken, child.seen = False, []
    second = execution(definition(), child).redrive(first.checkpoint)
    assert second.status == "FAILED" and second.error == "States.ItemReaderFailed"
    assert second.checkpoint.restart_point()[1].state == "Map"  # still the Map
    assert second.checkpoint.map_runs["Map"].succeeded == first.checkpoint.map_runs["Map"].succeeded
    assert second.checkpoint.map_runs["Map"].redrive_count == 1
    s3.put_object(Bucket="in-bucket", Key="items.csv", Body=body)
    third = execution(definition(), child).redrive(second.checkpoint)
    assert third.status == "SUCCEEDED", third.cause
    assert child.seen == ["i6", "i7", "i8"]  # still only the batch that had failed
    items, _ = succeeded_items(s3, third.output["map"])
    assert sorted(items) == [f"i{k}" for k in range(9)]


def test_carried_children_the_dispatch_never_reached_stay_succeeded(s3):
    inp = put_items(s3, 15)  # 5 batches of 3
    child = Child(bad={"i4", "i7", "i13"})
    # 0-2 ok, 3-5 and 6-8 fail (6 items tolerated), 9-11 ok, 12-14 fails: 9 > 6, the map fails
    first = execution(definition(tolerated=6), child).run(inp)
    assert [u.first for u in first.checkpoint.map_runs["Map"].succeeded] == [0, 9]
    child.seen = []
    # stricter now: 3-5 fails, the dispatch stops while waiting to start 6-8, before the carried 9-11
    second = execution(definition(tolerated=0), child).redrive(first.checkpoint)
    assert second.status == "FAILED" and child.seen == ["i3", "i4", "i5"]
    assert [u.first for u in second.checkpoint.map_runs["Map"].succeeded] == [0, 9]  # 9-11's records were carried
    child.broken, child.seen = False, []
    third = execution(definition(tolerated=0), child).redrive(second.checkpoint)
    assert third.status == "SUCCEEDED", third.cause
    assert child.seen == [f"i{k}" for k in (3, 4, 5, 6, 7, 8, 12, 13, 14)]
    items, _ = succeeded_items(s3, third.output["map"])
    assert sorted(items, key=lambda i: int(i[1:])) == [f"i{k}" for k in range(15)]  # every item once


def test_a_redrive_whose_results_cannot_be_written_leaves_the_earlier_ones_whole(s3):
    inp = put_items(s3, 9)
    child = Child(bad={"i8"})
    first = execution(definition(), child).run(inp)
    earlier_items, earlier = succeeded_items(s3, first.checkpoint.map_runs["Map"].manifest["Key"])
    child.broken, child.seen = False, []
    failing = execution(definition(), child)
    put_file = failing.services.put_file

    def no_manifest(path, bucket, key):
        if key.endswith("manifest.json"):
            raise OSError("the results bucket is away")
        put_file(path, bucket, key)

    failing.services.put_file = no_manifest
    second = failing.redrive(first.checkpoint)
    assert second.status == "FAILED" and child.seen == ["i6", "i7", "i8"]
    assert second.checkpoint.map_runs["Map"].succeeded == first.checkpoint.map_runs["Map"].succeeded
    # the earlier manifest and the files it names are as they were (the redrive wrote files of its own)
    assert succeeded_items(s3, first.checkpoint.map_runs["Map"].manifest["Key"]) == (earlier_items, earlier)
    child.seen = []
    third = execution(definition(), child).redrive(second.checkpoint)
    assert third.status == "SUCCEEDED" and child.seen == ["i6", "i7", "i8"]
    items, manifest = succeeded_items(s3, third.output["map"])
    assert sorted(items, key=lambda i: int(i[1:])) == [f"i{k}" for k in range(9)]
    assert all("_redrive2_" in f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"])


def test_a_map_that_now_reads_other_items_carries_nothing_over(s3):
    inp = put_items(s3, 9)
    child = Child(bad={"i8"})
    first = execution(definition(), child).run(inp)
    data = first.checkpoint.to_json()
    data["map_runs"]["Map"]["source"]["maxItemsPerBatch"] = 99  # cut otherwise than this definition cuts
    child.broken, child.seen = False, []
    again = execution(definition(), child).redrive(Checkpoint.from_json(data))
    assert again.status == "SUCCEEDED", again.cause
    assert child.seen == [f"i{k}" for k in range(9)]  # every child again, none carried
    items, _ = succeeded_items(s3, again.output["map"])
    assert sorted(items, key=lambda i: int(i[1:])) == [f"i{k}" for k in range(9)]
