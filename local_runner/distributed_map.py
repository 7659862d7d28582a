"""A Distributed Map run, following AWS's documented semantics.

- ItemReader from S3 (CSV with FIRST_ROW or GIVEN headers, CSVDelimiter,
  MaxItems; JSON and JSONL too), streamed: items are read as batches are
  dispatched, never all at once. CSV values are strings; short rows are
  padded with "" and extra fields dropped.
- ItemSelector per item (``$$.Map.Item.Index`` / ``.Value``), before batching.
- ItemBatcher: cut by MaxItemsPerBatch, then shrunk to MaxInputBytesPerBatch
  (the serialized child input, BatchInput included).
- Child executions (the ItemProcessor) on a thread pool of MaxConcurrency
  threads, at most that many in flight; the peak is recorded.
- ToleratedFailureCount/Percentage: a failed batch counts all its items;
  exceeding the threshold fails the map with States.ExceedToleratedFailureThreshold.
- ResultWriter: records are appended to SUCCEEDED/FAILED temp files as each
  child finishes, then uploaded as ``<Prefix>/<map-run-id>/SUCCEEDED_0.json`` ...
  with ``manifest.json``; the map's output is ``{MapRunArn, ResultWriterDetails}``.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import ACCOUNT, REGION
from .paths import StatesError, read_path, render, runtime_error

RESULT_FILE_LIMIT = 5 * 1024**3  # AWS starts a new result file every 5 GB
_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class _ResultFiles:
    """One status (SUCCEEDED / FAILED / PENDING): JSON arrays on disk, a new
    file every ``RESULT_FILE_LIMIT`` bytes."""

    def __init__(self, status: str, directory: str):
        self.status, self.directory = status, directory
        self.paths: list[str] = []
        self._fh = None
        self._size = 0
        self.count = 0

    def add(self, record: dict) -> None:
        text = _json(record)
        if self._fh is None or self._size + len(text) > RESULT_FILE_LIMIT:
            self._close_current()
            path = os.path.join(self.directory, f"{self.status}_{len(self.paths)}.json")
            self.paths.append(path)
            self._fh = open(path, "w", encoding="utf-8")
            self._fh.write("[")
            self._size = 1
        elif self._size > 1:
            self._fh.write(",")
        self._fh.write(text)
        self._size += len(text) + 1
        self.count += 1

    def _close_current(self) -> None:
        if self._fh is not None:
            self._fh.write("]")
            self._fh.close()
            self._fh = None

    def close(self) -> list[str]:
        self._close_current()
        return self.paths


class DistributedMapRun:
    def __init__(self, execution, state: dict, name: str, effective_input: Any, context: dict):
        self.execution = execution
        self.state = state
        self.name = name
        self.input = effective_input
        self.context = context
        self.options = execution.options
        self.map_run_id = str(uuid.uuid4())
        label = state.get("Label") or name.replace(" ", "")[:40]
        self.child_state_machine = f"{execution.state_machine_name}/{label}"
        self.map_run_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:{self.child_state_machine}:{self.map_run_id}"
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.items_total = 0
        self.items_failed = 0
        self.batches = 0
        self.failed_batches = 0
        self.outputs: dict[int, Any] = {}  # only without a ResultWriter

    # -------------------------------------------------------------- settings
    def _number(self, field: str, default: Any) -> Any:
        if f"{field}Path" in self.state:
            return read_path(self.state[f"{field}Path"], self.input, self.context)
        return self.state.get(field, default)

    def _settings(self) -> None:
        self.max_concurrency = self.execution.map_concurrency(self.state, self.input, self.context)
        self.tolerated_pct = float(self._number("ToleratedFailurePercentage", 0))
        self.tolerated_count = int(self._number("ToleratedFailureCount", 0))
        if not 0 <= self.tolerated_pct <= 100:
            raise runtime_error(f"ToleratedFailurePercentage must be 0..100, got {self.tolerated_pct}")
        self.has_tolerance = any(
            k in self.state for k in ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
                                      "ToleratedFailureCount", "ToleratedFailureCountPath")
        )
        batcher = self.state.get("ItemBatcher")
        self.batcher = batcher
        self.max_items = self.max_bytes = self.batch_input = None
        if batcher is not None:
            self.max_items = self._batcher_number(batcher, "MaxItemsPerBatch")
            self.max_bytes = self._batcher_number(batcher, "MaxInputBytesPerBatch")
            if self.max_bytes is not None and self.max_bytes > 256 * 1024:
                raise runtime_error("MaxInputBytesPerBatch cannot exceed 262144 bytes")
            self.batch_input = render(batcher.get("BatchInput", {}), self.input, self.context)

    def _batcher_number(self, batcher: dict, field: str) -> int | None:
        if f"{field}Path" in batcher:
            value = read_path(batcher[f"{field}Path"], self.input, self.context)
        else:
            value = batcher.get(field)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise runtime_error(f"ItemBatcher {field} must be a positive integer, got {value!r}")
        return value

    # -------------------------------------------------------------- items
    def _reader_items(self) -> Iterator[Any]:
        reader = self.state.get("ItemReader")
        if reader is None:
            items = read_path(self.state.get("ItemsPath", "$"), self.input, self.context)
            if not isinstance(items, list):
                raise runtime_error("ItemsPath did not select an array")
            yield from items
            return
        params = render(reader.get("Parameters", {}), self.input, self.context)
        config = reader.get("ReaderConfig") or {}
        max_items = config.get("MaxItems")
        if "MaxItemsPath" in config:
            max_items = read_path(config["MaxItemsPath"], self.input, self.context)
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        try:
            extra = {"VersionId": params["VersionId"]} if params.get("VersionId") else {}
            body = s3.get_object(Bucket=params["Bucket"], Key=params["Key"], **extra)["Body"]
        except Exception as exc:  # noqa: BLE001 - any read failure is the reader's failure
            raise StatesError("States.ItemReaderFailed", f"cannot read s3://{params.get('Bucket')}/{params.get('Key')}: {exc}") from None
        text = codecs.getreader("utf-8")(body)
        produced = 0
        try:
            for item in self._parse(text, config):
                if max_items and produced >= max_items:
                    break
                produced += 1
                yield item
        except UnicodeDecodeError as exc:
            raise StatesError("States.ItemReaderFailed", f"the object is not UTF-8 text: {exc}") from None
        except csv.Error as exc:
            raise StatesError("States.ItemReaderFailed", f"malformed CSV: {exc}") from None

    @staticmethod
    def _parse(text, config: dict) -> Iterator[Any]:
        kind = config.get("InputType", "JSON")
        if kind == "CSV":
            rows = csv.reader(text, delimiter=_DELIMITERS[config.get("CSVDelimiter", "COMMA")])
            if config.get("CSVHeaderLocation", "FIRST_ROW") == "GIVEN":
                headers = config["CSVHeaders"]
            else:
                headers = next(rows, None)
                if headers is None:
                    return
            width = len(headers)
            for row in rows:
                if not row:
                    continue  # blank line
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                yield dict(zip(headers, row[:width]))
        elif kind == "JSONL":
            for line in text:
                if line.strip():
                    yield json.loads(line)
        else:
            data = json.loads(text.read())
            if not isinstance(data, list):
                raise StatesError("States.ItemReaderFailed", "a JSON ItemReader object must hold an array")
            yield from data

    def _selected_items(self) -> Iterator[tuple[int, Any]]:
        selector = self.state.get("ItemSelector", self.state.get("Parameters"))
        for index, item in enumerate(self._reader_items()):
            if selector is not None:
                ctx = {**self.context, "Map": {"Item": {"Index": index, "Value": item}}}
                item = render(selector, self.input, ctx)
            yield index, item

    def _units(self) -> Iterator[tuple[int, int, Any]]:
        """(first index, item count, child input) for every child execution."""
        if self.batcher is None:
            for index, item in self._selected_items():
                yield index, 1, item
            return
        envelope = len(_json({"Items": [], "BatchInput": self.batch_input})) if self.batch_input else len('{"Items":[]}')
        items: list[Any] = []
        first, size = 0, envelope
        for index, item in self._selected_items():
            item_size = len(_json(item).encode()) + (1 if items else 0)
            too_many = self.max_items is not None and len(items) >= self.max_items
            too_big = self.max_bytes is not None and items and size + item_size > self.max_bytes
            if too_many or too_big:
                yield first, len(items), self._batch(items)
                items, size = [], envelope
                item_size -= 1
            if not items:
                first = index
            items.append(item)
            size += item_size
        if items:
            yield first, len(items), self._batch(items)

    def _batch(self, items: list) -> dict:
        batch: dict[str, Any] = {"Items": items}
        if self.batch_input:
            batch["BatchInput"] = self.batch_input
        return batch

    # -------------------------------------------------------------- children
    def _child(self, first_index: int, count: int, child_input: Any) -> tuple[dict, bool, Any]:
        name = str(uuid.uuid4())
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{self.child_state_machine}:{name}"
        started = _now()
        record: dict[str, Any] = {
            "ExecutionArn": arn,
            "Input": _json(child_input),
            "InputDetails": {"Included": True},
            "Name": name,
        }
        context = {
            "Execution": {"Id": arn, "Input": child_input, "Name": name, "StartTime": started,
                          "RoleArn": self.context["Execution"].get("RoleArn"), "RedriveCount": 0},
            "StateMachine": {"Id": f"{self.execution.state_machine_arn}/{self.child_state_machine.split('/', 1)[1]}",
                             "Name": self.child_state_machine},
        }
        processor = self.state.get("ItemProcessor") or self.state.get("Iterator")
        try:
            if len(_json(child_input).encode()) > 256 * 1024:
                raise StatesError("States.DataLimitExceeded", "the child execution's input exceeds 256 KiB")
            output = self.execution.run_machine(processor, child_input, context)
            record.update({
                "Output": _json(output), "OutputDetails": {"Included": True},
                "RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE",
                "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
                "StartDate": started, "StateMachineArn": context["StateMachine"]["Id"],
                "Status": "SUCCEEDED", "StopDate": _now(),
            })
            return record, True, output
        except StatesError as err:
            record.update({
                "Error": err.error, "Cause": err.cause,
                "RedriveCount": 0, "RedriveStatus": "REDRIVABLE", "RedriveStatusReason": "",
                "StartDate": started, "StateMachineArn": context["StateMachine"]["Id"],
                "Status": "FAILED", "StopDate": _now(),
            })
            return record, False, None

    def _threshold_exceeded(self, final: bool) -> bool:
        if not self.has_tolerance:
            return self.items_failed > 0
        if "ToleratedFailureCount" in self.state or "ToleratedFailureCountPath" in self.state:
            if self.items_failed > self.tolerated_count:
                return True
        if ("ToleratedFailurePercentage" in self.state or "ToleratedFailurePercentagePath" in self.state) and final:
            if self.items_total and 100.0 * self.items_failed / self.items_total > self.tolerated_pct:
                return True
        return False

    # -------------------------------------------------------------- run
    def run(self) -> Any:
        started = time.monotonic()
        self._settings()
        writer = self.state.get("ResultWriter")
        workdir = tempfile.mkdtemp(prefix="map-run-") if writer else None
        files = {s: _ResultFiles(s, workdir) for s in ("SUCCEEDED", "FAILED", "PENDING")} if writer else {}
        slots = threading.BoundedSemaphore(self.max_concurrency)
        stop = threading.Event()
        errors: list[BaseException] = []

        def finished(first: int, count: int, future) -> None:
            try:
                record, ok, output = future.result()
                with self._lock:
                    self.in_flight -= 1
                    if not ok:
                        self.failed_batches += 1
                        self.items_failed += count
                    if writer:
                        files["SUCCEEDED" if ok else "FAILED"].add(record)
                    else:
                        self.outputs[first] = output if ok else None
                    if self._threshold_exceeded(final=False):
                        stop.set()
                if self.options.on_batch_done:
                    self.options.on_batch_done(count, ok)
            except BaseException as exc:  # noqa: BLE001 - surfaced after the pool drains
                errors.append(exc)
                stop.set()
            finally:
                slots.release()

        try:
            with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="map-child") as pool:
                for first, count, child_input in self._units():
                    if stop.is_set():
                        break
                    slots.acquire()  # at most MaxConcurrency children in flight
                    if stop.is_set():
                        slots.release()
                        break
                    with self._lock:
                        self.items_total += count
                        self.batches += 1
                        self.in_flight += 1
                        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                    if self.options.on_items_read:
                        self.options.on_items_read(count)
                    future = pool.submit(self._child, first, count, child_input)
                    future.add_done_callback(lambda f, first=first, count=count: finished(first, count, f))
        finally:
            self.stats = {
                "mapRunArn": self.map_run_arn, "state": self.name,
                "itemsTotal": self.items_total, "itemsFailed": self.items_failed,
                "batches": self.batches, "failedBatches": self.failed_batches,
                "maxConcurrency": self.max_concurrency, "peakInFlight": self.peak_in_flight,
                "durationSeconds": round(time.monotonic() - started, 3),
            }
            self.execution.map_runs.append(self.stats)
        for exc in errors:
            raise exc
        exceeded = self._threshold_exceeded(final=True)
        output: Any
        if writer:
            output = self._write_results(writer, files)
            self.stats["resultWriterKey"] = output["ResultWriterDetails"]["Key"]
        else:
            output = [self.outputs[k] for k in sorted(self.outputs)]
        if exceeded:
            raise StatesError("States.ExceedToleratedFailureThreshold", THRESHOLD_CAUSE)
        return output

    def _write_results(self, writer: dict, files: dict[str, _ResultFiles]) -> dict:
        import boto3

        params = render(writer.get("Parameters", {}), self.input, self.context)
        bucket = params["Bucket"]
        prefix = params.get("Prefix", "").strip("/")
        base = f"{prefix}/{self.map_run_id}" if prefix else self.map_run_id
        s3 = boto3.client("s3", region_name=REGION)
        manifest: dict[str, Any] = {"DestinationBucket": bucket, "MapRunArn": self.map_run_arn,
                                    "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": []}}
        try:
            for status, result_files in files.items():
                for path in result_files.close():
                    key = f"{base}/{os.path.basename(path)}"
                    s3.upload_file(path, bucket, key)
                    manifest["ResultFiles"][status].append({"Key": key, "Size": os.path.getsize(path)})
                    os.remove(path)
            manifest_key = f"{base}/manifest.json"
            s3.put_object(Bucket=bucket, Key=manifest_key, Body=_json(manifest).encode())
        except Exception as exc:  # noqa: BLE001 - the writer's failure fails the map
            raise StatesError("States.ResultWriterFailed", f"cannot write results to s3://{bucket}/{base}: {exc}") from None
        return {"MapRunArn": self.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}


def _now() -> str:
    from .interpreter import now_iso

    return now_iso()
