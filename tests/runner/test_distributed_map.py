"""Distributed Map conformance: reader, batcher, concurrency, tolerance, ResultWriter."""

import json
import threading
import time

import pytest

from tests.runner.conftest import machine, read_json, run

FN = "arn:aws:lambda:ap-northeast-1:123456789012:function:child"


def dmap(**fields):
    state = {
        "Type": "Map",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
        },
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Work",
            "States": {"Work": {"Type": "Task", "Resource": FN, "End": True}},
        },
        "End": True,
    }
    state.update(fields)
    return machine({"Map": state})


def put_csv(s3, text, key="data.csv", encoding="utf-8"):
    s3.put_object(Bucket="in-bucket", Key=key, Body=text.encode(encoding))
    return {"bucket": "in-bucket", "key": key}


def echo(event, context):
    return event


def csv_rows(n):
    return "id,v\n" + "".join(f"{i},{i * 2}\n" for i in range(n))


def test_csv_reader_gives_strings_pads_short_rows_and_drops_extra_fields(s3):
    inp = put_csv(s3, 'a,b,c\n1,2,3\n4,5\n\n6,7,8,9\n"x,y","q""q",z\n')
    result = run(dmap(), inp, functions={FN: echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [
        {"a": "1", "b": "2", "c": "3"},
        {"a": "4", "b": "5", "c": ""},
        {"a": "6", "b": "7", "c": "8"},
        {"a": "x,y", "b": 'q"q', "c": "z"},
    ]


def test_csv_reader_takes_backslash_escapes_as_aws_documents(s3):
    # AWS (example-csv-parse-dist-map): a doubled backslash is one backslash, a backslash escapes the
    # delimiter and the quote, and before any other character the backslash is dropped.
    inp = put_csv(s3, "path,size\nC:\\\\Program Files\\\\MyApp.exe,6534512\na\\,b,c\nx\\yz,1\n")
    result = run(dmap(), inp, functions={FN: echo})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == [
        {"path": "C:\\Program Files\\MyApp.exe", "size": "6534512"},
        {"path": "a,b", "size": "c"},
        {"path": "xyz", "size": "1"},
    ]


def test_given_headers_delimiter_and_max_items(s3):
    inp = put_csv(s3, "1|2\n3|4\n5|6\n")
    reader = {
        "Resource": "arn:aws:states:::s3:getObject",
        "ReaderConfig": {
            "InputType": "CSV",
            "CSVHeaderLocation": "GIVEN",
            "CSVHeaders": ["x", "y"],
            "CSVDelimiter": "PIPE",
            "MaxItems": 2,
        },
        "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
    }
    assert run(dmap(ItemReader=reader), inp, functions={FN: echo}).output == [
        {"x": "1", "y": "2"},
        {"x": "3", "y": "4"},
    ]


def test_aws_example_1130_items_by_100_gives_12_batches(s3):
    inp = put_csv(s3, csv_rows(1130))
    sizes = []

    def child(event, context):
        sizes.append(len(event["Items"]))
        return len(event["Items"])

    result = run(dmap(ItemBatcher={"MaxItemsPerBatch": 100}), inp, functions={FN: child})
    assert result.status == "SUCCEEDED"
    assert sorted(sizes) == [30] + [100] * 11
    assert result.map_runs[0]["batches"] == 12 and result.map_runs[0]["itemsTotal"] == 1130


def test_batches_are_shrunk_to_the_byte_limit_and_carry_batch_input(s3):
    inp = put_csv(s3, csv_rows(300))
    seen = []

    def child(event, context):
        seen.append(event)

    d = dmap(
        ItemSelector={"index.$": "$$.Map.Item.Index", "row.$": "$$.Map.Item.Value"},
        ItemBatcher={
            "MaxItemsPerBatchPath": "$.n",
            "MaxInputBytesPerBatch": 2000,
            "BatchInput": {"run.$": "$$.Execution.Name", "key.$": "$.key"},
        },
    )
    result = run(d, {**inp, "n": 100}, functions={FN: child})
    assert result.status == "SUCCEEDED"
    assert all(len(json.dumps(e, separators=(",", ":"))) <= 2000 for e in seen)
    assert all(e["BatchInput"] == {"run": "exec-1", "key": "data.csv"} for e in seen)
    indexes = sorted(i["index"] for e in seen for i in e["Items"])
    assert indexes == list(range(300))  # every item once, index assigned before batching
    assert max(len(e["Items"]) for e in seen) < 100  # bytes, not count, cut these batches


def test_max_concurrency_is_enforced_by_a_real_thread_pool(s3):
    inp = put_csv(s3, csv_rows(40))
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    def child(event, context):
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.02)
        with lock:
            state["now"] -= 1
        return 1

    result = run(
        dmap(MaxConcurrencyPath="$.c", ItemBatcher={"MaxItemsPerBatch": 2}), {**inp, "c": 3}, functions={FN: child}
    )
    assert result.status == "SUCCEEDED"
    assert state["peak"] == 3  # reached, never exceeded
    assert result.map_runs[0]["peakInFlight"] == 3 and result.map_runs[0]["maxConcurrency"] == 3


def failing_on(ids):
    def child(event, context):
        items = event.get("Items", [event])
        if any(i["id"] in ids for i in items):
            raise RuntimeError("boom")
        return "ok"

    return child


@pytest.mark.parametrize(
    ("fields", "failing", "status"),
    [
        ({}, {"3"}, "FAILED"),  # default tolerance is 0
        ({"ToleratedFailurePercentage": 10}, {"3"}, "SUCCEEDED"),  # 1 batch of 5 = 5% of 100 items
        ({"ToleratedFailurePercentage": 10}, {"3", "13", "23"}, "FAILED"),  # 15%
        ({"ToleratedFailurePercentagePath": "$.pct"}, {"3", "13", "23"}, "SUCCEEDED"),  # 20% allowed
        ({"ToleratedFailureCount": 5}, {"3"}, "SUCCEEDED"),  # a failed batch counts all 5 items
        ({"ToleratedFailureCount": 4}, {"3"}, "FAILED"),
        ({"ToleratedFailureCountPath": "$.count"}, {"3"}, "FAILED"),
    ],
)
def test_tolerated_failure_thresholds(s3, fields, failing, status):
    inp = put_csv(s3, "id\n" + "".join(f"{i}\n" for i in range(100)))
    d = dmap(ItemBatcher={"MaxItemsPerBatch": 5}, **fields)
    result = run(d, {**inp, "pct": 20, "count": 0}, functions={FN: failing_on(failing)})
    assert result.status == status
    if status == "FAILED":
        assert result.error == "States.ExceedToleratedFailureThreshold"


def test_result_writer_writes_the_aws_layout(s3):
    inp = put_csv(s3, "id\n" + "".join(f"{i}\n" for i in range(10)))
    d = dmap(
        ItemBatcher={"MaxItemsPerBatch": 2},
        ToleratedFailurePercentage=50,
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "out-bucket", "Prefix.$": "States.Format('results/{}', $$.Execution.Name)"},
        },
        ResultPath="$.map",
    )
    result = run(d, inp, functions={FN: failing_on({"4"})})
    assert result.status == "SUCCEEDED", result.cause
    out = result.output["map"]
    run_id = out["MapRunArn"].rsplit(":", 1)[1]
    assert out["MapRunArn"].startswith("arn:aws:states:ap-northeast-1:123456789012:mapRun:sm/Map:")
    assert out["ResultWriterDetails"] == {"Bucket": "out-bucket", "Key": f"results/exec-1/{run_id}/manifest.json"}
    manifest = read_json(s3, "out-bucket", out["ResultWriterDetails"]["Key"])
    assert manifest["DestinationBucket"] == "out-bucket" and manifest["MapRunArn"] == out["MapRunArn"]
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == [f"results/exec-1/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in manifest["ResultFiles"]["FAILED"]] == [f"results/exec-1/{run_id}/FAILED_0.json"]
    assert manifest["ResultFiles"]["PENDING"] == []
    succeeded = read_json(s3, "out-bucket", manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    failed = read_json(s3, "out-bucket", manifest["ResultFiles"]["FAILED"][0]["Key"])
    assert manifest["ResultFiles"]["FAILED"][0]["Size"] == len(
        s3.get_object(Bucket="out-bucket", Key=manifest["ResultFiles"]["FAILED"][0]["Key"])["Body"].read()
    )
    assert len(succeeded) == 4 and len(failed) == 1
    assert all(isinstance(r["Output"], str) and json.loads(r["Output"]) == "ok" for r in succeeded)
    assert all(isinstance(r["Input"], str) and r["Status"] == "SUCCEEDED" for r in succeeded)
    assert failed[0]["Status"] == "FAILED" and failed[0]["Error"] == "RuntimeError" and "boom" in failed[0]["Cause"]
    assert "Output" not in failed[0]
    assert json.loads(failed[0]["Input"])["Items"] == [{"id": "4"}, {"id": "5"}]


def test_missing_object_fails_the_reader_and_can_be_caught(s3):
    d = dmap(Catch=[{"ErrorEquals": ["States.ItemReaderFailed"], "ResultPath": "$.error", "Next": "Caught"}])
    d["States"]["Caught"] = {"Type": "Pass", "End": True}
    result = run(d, {"bucket": "in-bucket", "key": "nope.csv"}, functions={FN: echo})
    assert result.status == "SUCCEEDED" and result.output["error"]["Error"] == "States.ItemReaderFailed"


def test_non_utf8_csv_fails_the_reader(s3):
    inp = put_csv(s3, "ユーザーID,ログイン回数\nU1,1\n", encoding="cp932")
    result = run(dmap(), inp, functions={FN: echo})
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")


def test_bom_is_not_stripped_by_the_reader(s3):
    """AWS does not document BOM handling; the runner keeps it, which is why
    ValidateInput normalises files before the map reads them."""
    inp = put_csv(s3, "\ufeffid\n1\n")
    assert run(dmap(), inp, functions={FN: echo}).output == [{"\ufeffid": "1"}]
