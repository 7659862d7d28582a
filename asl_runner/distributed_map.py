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
- Redrive (``previous``): the same Map Run; only the children that did not succeed run again,
  the succeeded ones' records are carried over from the previous manifest (``asl_runner.redrive``).

The run talks to the rest of the runner through ``MapEnvironment`` only.
"""

from __future__ import annotations

import bisect
import codecs
import csv
import functools
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, cast

from .errors import StatesError, runtime_error
from .limits import check_payload
from .model import Machine, Map, ReaderConfigSpec, ResultWriterSpec
from .paths import JSON, path_integer, path_number, read_path
from .redrive import MapRunCheckpoint, Unit
from .services import Services
from .templates import render

RESULT_FILE_LIMIT = 5 * 1024**3  # AWS starts a new result file every 5 GB
_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
Context = dict[str, Any]


@dataclass(frozen=True)
class MapEnvironment:
    """What a map run needs from the execution that started it."""

    services: Services
    run_child: Callable[[Machine, JSON, Context, str], JSON]  # (processor, input, context, ExecutionType)
    state_machine_arn: str
    state_machine_name: str
    region: str
    account: str
    max_threads: int
    on_batch_done: Callable[[int, bool], None] | None = None
    on_items_read: Callable[[int], None] | None = None
    emit: Callable[..., int] | None = None  # the Map state's history events (MapRunStarted ...): events.EventLog


def _json(value: JSON) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def max_concurrency(state: Map, data: JSON, ctx: Context, cap: int) -> int:
    """MaxConcurrency(Path): 0 is up to 10,000 (then capped at ``cap`` threads)."""
    if state.MaxConcurrencyPath:
        value = path_integer("MaxConcurrencyPath", state.MaxConcurrencyPath, data, ctx)
    else:
        value = state.MaxConcurrency
    if value < 0:
        # AWS recorded an execution that never went on (test_max_concurrency_path_negative): the runner fails it
        raise runtime_error(f"MaxConcurrency must be a non-negative integer, got {value!r}")
    return min(value or 10_000, cap)


class _ResultFiles:
    """One status (SUCCEEDED / FAILED / PENDING): JSON arrays on disk, a new
    file every ``RESULT_FILE_LIMIT`` bytes."""

    def __init__(self, status: str, directory: str, stem: str = "") -> None:
        self.status, self.directory, self.stem = status, directory, stem or status
        self.paths: list[str] = []
        self._fh: IO[str] | None = None
        self._size = 0
        self.count = 0

    def add(self, record: dict[str, Any]) -> None:
        text = _json(record)
        if self._fh is None or self._size + len(text) > RESULT_FILE_LIMIT:
            self._close_current()
            path = os.path.join(self.directory, f"{self.stem}_{len(self.paths)}.json")
            self.paths.append(path)
            self._fh = open(path, "w", encoding="utf-8")  # noqa: SIM115 - open across calls, closed by close()
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


def parse_items(text: IO[str], config: ReaderConfigSpec) -> Iterator[JSON]:
    if config.InputType == "CSV":
        yield from _csv_items(text, config)
    elif config.InputType == "JSONL":
        for line in text:
            if line.strip():
                yield json.loads(line)
    else:
        data = json.loads(text.read())
        if not isinstance(data, list):
            # AWS's words (recorded: test_base_scenarios.py::TestBaseScenarios::test_map_item_reader_json_no_json_list_object)
            raise StatesError("States.ItemReaderFailed", "Attempting to map over non-iterable node.")
        yield from data


def _csv_items(text: IO[str], config: ReaderConfigSpec) -> Iterator[JSON]:
    # AWS's CSV rules (example-csv-parse-dist-map): quotes doubled inside quoted fields, and a
    # backslash escapes the next character (itself, a quote, the delimiter; before any other
    # character the backslash is dropped): Python's escapechar does the same.
    rows = csv.reader(text, delimiter=_DELIMITERS[config.CSVDelimiter], escapechar="\\", doublequote=True)
    if config.CSVHeaderLocation == "GIVEN":
        headers = list(config.CSVHeaders or [])
    else:
        first = next(rows, None)
        if first is None:
            return
        headers = first
    if len(set(headers)) != len(headers):
        # recorded: test_base_scenarios.py::TestBaseScenarios::test_map_item_reader_csv_headers_decl_duplicate_headers
        raise StatesError("States.ItemReaderFailed", "CSV headers cannot contain duplicates.")
    width = len(headers)
    for row in rows:
        if not row:
            continue  # blank line
        if len(row) < width:
            row = row + [""] * (width - len(row))
        yield dict(zip(headers, row[:width], strict=True))


class DistributedMapRun:
    def __init__(
        self,
        environment: MapEnvironment,
        state: Map,
        name: str,
        effective_input: JSON,
        context: Context,
        previous: MapRunCheckpoint | None = None,
    ) -> None:
        self.env = environment
        self.state = state
        self.name = name
        self.input = effective_input
        self.context = context
        self.previous = previous
        self.map_run_id = previous.map_run_id if previous else str(uuid.uuid4())
        # Children that succeeded before: skipped, their records carried over (only when the
        # previous attempt's records can be had: its manifest was written, or there is no writer).
        usable = previous is not None and (previous.manifest is not None or state.ResultWriter is None)
        self.carried: dict[int, int] = {u.first: u.count for u in previous.succeeded} if usable and previous else {}
        self._carried_starts = sorted(self.carried)
        self.carried_over = 0
        self.succeeded: list[Unit] = []
        self.manifest: dict[str, str] | None = None
        self.source: dict[str, Any] | None = None
        label = state.Label or name.replace(" ", "")[:40]
        self.child_state_machine = f"{environment.state_machine_name}/{label}"
        self.map_run_arn = (
            f"arn:aws:states:{environment.region}:{environment.account}:mapRun:"
            f"{self.child_state_machine}:{self.map_run_id}"
        )
        self._lock = threading.Lock()
        self.in_flight = self.peak_in_flight = 0
        self.items_total = self.items_failed = 0
        self.batches = self.failed_batches = 0
        self.outputs: dict[int, JSON] = {}  # only without a ResultWriter
        self.stats: dict[str, Any] = {
            "mapRunArn": self.map_run_arn,
            "state": name,
            "redriveCount": previous.redrive_count + 1 if previous else 0,
        }
        self.max_concurrency = 1
        self.run_started = False  # MapRunStarted was recorded: a failure now is the map run's
        self.reader_max_items = 0  # ReaderConfig MaxItems(Path): 0 reads every item
        self.max_items: int | None = None
        self.max_bytes: int | None = None
        self.batch_input: JSON = None

    # -------------------------------------------------------------- settings
    def _settings(self) -> None:
        """The tolerances, the batch limits, MaxItemsPath: AWS's errors in AWS's words (recorded by
        AWS: ``test_base_scenarios.py::TestBaseScenarios::test_map_state_tolerated_failure_count_path``,
        ``..._percentage_path``, ``..::test_map_item_reader_csv_max_items_paths``)."""
        state, data, ctx = self.state, self.input, self.context
        self.tolerated_pct = (
            path_number("ToleratedFailurePercentagePath", state.ToleratedFailurePercentagePath, data, ctx)
            if state.ToleratedFailurePercentagePath
            else float(state.ToleratedFailurePercentage)
        )
        if not 0 <= self.tolerated_pct <= 100:
            raise runtime_error("ToleratedFailurePercentage must be between 0 and 100.")
        self.tolerated_count = (
            path_integer("ToleratedFailureCountPath", state.ToleratedFailureCountPath, data, ctx)
            if state.ToleratedFailureCountPath
            else state.ToleratedFailureCount
        )
        if self.tolerated_count < 0:
            raise runtime_error("ToleratedFailureCount cannot be negative.")
        reader = state.ItemReader
        if reader is not None and reader.ReaderConfig.MaxItemsPath:
            self.reader_max_items = path_integer("MaxItemsPath", reader.ReaderConfig.MaxItemsPath, data, ctx)
        elif reader is not None:
            self.reader_max_items = reader.ReaderConfig.MaxItems or 0
        self.count_tolerance = state.has("ToleratedFailureCount") or state.has("ToleratedFailureCountPath")
        self.pct_tolerance = state.has("ToleratedFailurePercentage") or state.has("ToleratedFailurePercentagePath")
        batcher = state.ItemBatcher
        if batcher is not None:
            self.max_items = self._batcher_number(
                batcher.MaxItemsPerBatch, batcher.MaxItemsPerBatchPath, "MaxItemsPerBatch"
            )
            self.max_bytes = self._batcher_number(
                batcher.MaxInputBytesPerBatch, batcher.MaxInputBytesPerBatchPath, "MaxInputBytesPerBatch"
            )
            if self.max_bytes is not None and self.max_bytes > 256 * 1024:
                raise runtime_error("MaxInputBytesPerBatch cannot exceed 262144 bytes")
            self.batch_input = render(batcher.BatchInput or {}, self.input, self.context)

    def _batcher_number(self, value: int | None, path: str | None, field: str) -> int | None:
        if path:
            value = path_integer(f"{field}Path", path, self.input, self.context)
        if value is None:
            return None
        if value < 1:
            raise runtime_error(f"ItemBatcher {field} must be a positive integer, got {value!r}")
        return value

    # -------------------------------------------------------------- items
    def _reader_items(self) -> Iterator[JSON]:
        reader = self.state.ItemReader
        if reader is None:
            items = read_path(self.state.ItemsPath, self.input, self.context)
            if not isinstance(items, list):
                raise runtime_error("ItemsPath did not select an array")
            yield from items
            return
        params = render(reader.Parameters.template(), self.input, self.context)
        config = reader.ReaderConfig
        max_items = self.reader_max_items
        if max_items < 0:
            raise StatesError("States.ItemReaderFailed", "field MaxItems must be positive")
        try:
            body = self.env.services.open_object(params["Bucket"], params["Key"], params.get("VersionId"))
        except Exception as exc:  # noqa: BLE001 - any read failure is the reader's failure
            raise StatesError(
                "States.ItemReaderFailed", f"cannot read s3://{params.get('Bucket')}/{params.get('Key')}: {exc}"
            ) from None
        produced = 0
        try:
            for item in parse_items(cast(IO[str], codecs.getreader("utf-8")(body)), config):
                if max_items and produced >= max_items:
                    break
                produced += 1
                yield item
        except UnicodeDecodeError as exc:
            raise StatesError("States.ItemReaderFailed", f"the object is not UTF-8 text: {exc}") from None
        except csv.Error as exc:
            raise StatesError("States.ItemReaderFailed", f"malformed CSV: {exc}") from None

    def _selected_items(self) -> Iterator[tuple[int, JSON]]:
        selector = self.state.selector
        for index, item in enumerate(self._reader_items()):
            if selector is not None:
                ctx = {**self.context, "Map": {"Item": {"Index": index, "Value": item}}}
                item = render(selector, self.input, ctx)
            yield index, item

    def _units(self) -> Iterator[tuple[int, int, JSON]]:
        """(first index, item count, child input) for every child execution."""
        if self.state.ItemBatcher is None:
            for index, item in self._selected_items():
                yield index, 1, item
            return
        envelope = (
            len(_json({"Items": [], "BatchInput": self.batch_input})) if self.batch_input else len('{"Items":[]}')
        )
        items: list[JSON] = []
        first, size = 0, envelope
        for index, item in self._selected_items():
            item_size = len(_json(item).encode()) + (1 if items else 0)
            if self._full(items, size + item_size):
                yield first, len(items), self._batch(items)
                items, size = [], envelope
                item_size -= 1
            if not items:
                first = index
            items.append(item)
            size += item_size
        if items:
            yield first, len(items), self._batch(items)

    def _full(self, items: list[JSON], size_with_next: int) -> bool:
        """Must the batch be cut before the next item (MaxItemsPerBatch, then MaxInputBytesPerBatch)?"""
        too_many = self.max_items is not None and len(items) >= self.max_items
        too_big = self.max_bytes is not None and bool(items) and size_with_next > self.max_bytes
        return too_many or too_big

    def _batch(self, items: list[JSON]) -> dict[str, JSON]:
        batch: dict[str, JSON] = {"Items": items}
        if self.batch_input:
            batch["BatchInput"] = self.batch_input
        return batch

    # -------------------------------------------------------------- children
    def _child(self, child_input: JSON) -> tuple[dict[str, Any], bool, JSON]:
        name = str(uuid.uuid4())
        arn = f"arn:aws:states:{self.env.region}:{self.env.account}:execution:{self.child_state_machine}:{name}"
        started = _now()
        machine_arn = f"{self.env.state_machine_arn}/{self.child_state_machine.split('/', 1)[1]}"
        record: dict[str, Any] = {
            "ExecutionArn": arn,
            "Input": _json(child_input),
            "InputDetails": {"Included": True},
            "Name": name,
        }
        context = {
            "Execution": {
                "Id": arn,
                "Input": child_input,
                "Name": name,
                "StartTime": started,
                "RoleArn": self.context["Execution"].get("RoleArn"),
                "RedriveCount": 0,
            },
            "StateMachine": {"Id": machine_arn, "Name": self.child_state_machine},
        }
        processor = self.state.processor
        execution_type = self.state.processor.ProcessorConfig.ExecutionType
        try:
            check_payload(child_input, "the child execution's input")
            output = self.env.run_child(processor, child_input, context, execution_type)
            check_payload(output, "the child execution's output")
        except StatesError as err:
            record.update(
                {
                    "Error": err.error,
                    "Cause": err.cause,
                    "RedriveCount": 0,
                    "RedriveStatus": "REDRIVABLE",
                    "RedriveStatusReason": "",
                    "StartDate": started,
                    "StateMachineArn": machine_arn,
                    "Status": "FAILED",
                    "StopDate": _now(),
                }
            )
            return record, False, None
        record.update(
            {
                "Output": _json(output),
                "OutputDetails": {"Included": True},
                "RedriveCount": 0,
                "RedriveStatus": "NOT_REDRIVABLE",
                "RedriveStatusReason": "Execution is SUCCEEDED and cannot be redriven",
                "StartDate": started,
                "StateMachineArn": machine_arn,
                "Status": "SUCCEEDED",
                "StopDate": _now(),
            }
        )
        return record, True, output

    def _threshold_exceeded(self, final: bool) -> bool:
        if not (self.count_tolerance or self.pct_tolerance):
            return self.items_failed > 0
        if self.count_tolerance and self.items_failed > self.tolerated_count:
            return True
        return bool(
            self.pct_tolerance
            and final
            and self.items_total
            and 100.0 * self.items_failed / self.items_total > self.tolerated_pct
        )

    # -------------------------------------------------------------- run
    def _emit(self, type: str, **details: Any) -> None:
        if self.env.emit is not None:
            self.env.emit(type, **details)

    def run(self) -> JSON:
        """The map run, with the events AWS records (recorded by AWS: LocalStack's snapshots
        ``test_base_scenarios.py::TestBaseScenarios::test_max_concurrency_path``,
        ``..::test_map_state_tolerated_failure_count_path``, ``..::test_map_item_reader_csv_max_items_paths``):
        MaxConcurrency(Path) is read before ``MapStateStarted``; the tolerances, the batch limits and
        MaxItemsPath's type after it, and a bad one fails the state before ``MapRunStarted``; what the
        items turn out to be (a MaxItems below 0, a reader's failure) fails the map run:
        ``MapRunFailed``. The state's own ``MapStateSucceeded`` / ``MapStateFailed`` are the
        interpreter's (a Retry starts the state again)."""
        self.max_concurrency = max_concurrency(self.state, self.input, self.context, self.env.max_threads)
        self._emit("MapStateStarted")
        self._settings()
        self._check_source()
        self._emit("MapRunStarted")
        self.run_started = True
        try:
            output = self._run()
        except StatesError as err:
            self._emit("MapRunFailed", error=err.error, cause=err.cause)
            raise
        self._emit("MapRunSucceeded")
        return output

    def _run(self) -> JSON:
        started = time.monotonic()
        writer = self.state.ResultWriter
        files = self._result_files() if writer else {}
        try:
            self._carry_over(files)
            errors = self._dispatch(files)
        finally:
            self.stats.update(
                {
                    "carriedOverBatches": self.carried_over,
                    "itemsTotal": self.items_total,
                    "itemsFailed": self.items_failed,
                    "batches": self.batches,
                    "failedBatches": self.failed_batches,
                    "maxConcurrency": self.max_concurrency,
                    "peakInFlight": self.peak_in_flight,
                    "durationSeconds": round(time.monotonic() - started, 3),
                }
            )
        for exc in errors:
            raise exc
        exceeded = self._threshold_exceeded(final=True)
        output: JSON
        if writer:
            output = self._write_results(writer, files)
            self.manifest = {
                "Bucket": output["ResultWriterDetails"]["Bucket"],
                "Key": output["ResultWriterDetails"]["Key"],
            }
            self.stats["resultWriterKey"] = output["ResultWriterDetails"]["Key"]
        else:
            output = [self.outputs[k] for k in sorted(self.outputs)]
        if exceeded:
            raise StatesError("States.ExceedToleratedFailureThreshold", THRESHOLD_CAUSE)
        return output

    def _source(self) -> dict[str, Any]:
        reader = self.state.ItemReader
        params = render(reader.Parameters.template(), self.input, self.context) if reader else None
        return {"reader": params, "maxItemsPerBatch": self.max_items, "maxInputBytesPerBatch": self.max_bytes}

    def _check_source(self) -> None:
        """Carry nothing over when the map now reads other items (another object, other batch
        limits) than the attempt it continues: those records belong to other items."""
        self.source = self._source()
        previous = self.previous
        if previous is not None and previous.source is not None and previous.source != self.source:
            self.carried, self._carried_starts = {}, []

    def checkpoint(self) -> MapRunCheckpoint:
        """What a redrive of this map run needs (``asl_runner.redrive``)."""
        previous = self.previous
        if previous is not None and self.manifest is None and self.state.ResultWriter is not None:
            # this attempt wrote no results (it failed before): the earlier record still stands
            return previous.model_copy(update={"redrive_count": self.stats["redriveCount"]})
        with self._lock:
            units = {u.first: u for u in self.succeeded}
            # carried children the dispatch never reached (it stopped early): their records were
            # carried into this attempt's files all the same, so they stay succeeded
            for first, count in self.carried.items():
                units.setdefault(first, Unit(first=first, count=count))
            succeeded = sorted(units.values(), key=lambda u: u.first)
            earlier = self.previous.outputs if self.previous else {}
            outputs = (
                {u.first: self.outputs.get(u.first, earlier.get(u.first)) for u in succeeded}
                if self.state.ResultWriter is None
                else {}
            )
        return MapRunCheckpoint(
            map_run_id=self.map_run_id,
            map_run_arn=self.map_run_arn,
            succeeded=succeeded,
            manifest=self.manifest,
            outputs=outputs,
            redrive_count=self.stats["redriveCount"],
            source=self.source,
        )

    def _carry_over(self, files: dict[str, _ResultFiles]) -> None:
        """Copy the previous attempt's SUCCEEDED records into this attempt's result files."""
        if not (self.carried and files and self.previous and self.previous.manifest):
            return
        import ijson

        where = self.previous.manifest
        try:
            body = self.env.services.open_object(where["Bucket"], where["Key"], None)
            manifest = json.loads(body.read())
            for entry in manifest.get("ResultFiles", {}).get("SUCCEEDED", []):
                records = self.env.services.open_object(manifest["DestinationBucket"], entry["Key"], None)
                for record in ijson.items(records, "item", use_float=True):
                    files["SUCCEEDED"].add(record)
        except Exception as exc:  # noqa: BLE001 - the previous results are the writer's to read
            raise StatesError(
                "States.ResultWriterFailed",
                f"cannot read the previous attempt's results s3://{where['Bucket']}/{where['Key']}: {exc}",
            ) from None

    def _result_files(self) -> dict[str, _ResultFiles]:
        """A redrive writes files of its own (``SUCCEEDED_redrive1_0.json`` ...): until its manifest
        is written, the earlier manifest and the files it names stay as they were."""
        workdir = tempfile.mkdtemp(prefix="map-run-")
        count = self.stats["redriveCount"]
        return {
            s: _ResultFiles(s, workdir, f"{s}_redrive{count}" if count else s)
            for s in ("SUCCEEDED", "FAILED", "PENDING")
        }

    def _finished(
        self, first: int, count: int, future: Future[tuple[dict[str, Any], bool, JSON]], files: dict[str, _ResultFiles]
    ) -> None:
        record, ok, output = future.result()
        with self._lock:
            self.in_flight -= 1
            if ok:
                self.succeeded.append(Unit(first=first, count=count))
            else:
                self.failed_batches += 1
                self.items_failed += count
            if files:
                files["SUCCEEDED" if ok else "FAILED"].add(record)
            else:
                self.outputs[first] = output if ok else None
            exceeded = self._threshold_exceeded(final=False)
        if self.env.on_batch_done:
            self.env.on_batch_done(count, ok)
        if exceeded:
            raise _Stop()

    def _dispatch(self, files: dict[str, _ResultFiles]) -> list[BaseException]:
        slots = threading.BoundedSemaphore(self.max_concurrency)
        stop = threading.Event()
        errors: list[BaseException] = []

        def finished(first: int, count: int, future: Future[tuple[dict[str, Any], bool, JSON]]) -> None:
            try:
                self._finished(first, count, future, files)
            except _Stop:
                stop.set()
            except BaseException as exc:  # noqa: BLE001 - surfaced after the pool drains
                errors.append(exc)
                stop.set()
            finally:
                slots.release()

        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="map-child") as pool:
            for first, count, child_input in self._units():
                if stop.is_set():
                    break
                if first in self.carried:
                    self._carried_unit(first, count)
                    continue
                self._check_no_overlap(first, count)
                slots.acquire()  # at most MaxConcurrency children in flight
                if stop.is_set():
                    slots.release()
                    break
                with self._lock:
                    self.items_total += count
                    self.batches += 1
                    self.in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                if self.env.on_items_read:
                    self.env.on_items_read(count)
                future = pool.submit(self._child, child_input)
                future.add_done_callback(functools.partial(finished, first, count))
        if not stop.is_set() and not errors and self.carried_over < len(self.carried):
            errors.append(self._changed(f"{len(self.carried) - self.carried_over} child(ren) that succeeded are gone"))
        return errors

    def _changed(self, what: str) -> StatesError:
        return runtime_error(
            f"the items of {self.name} changed since the earlier attempt ({what}): it cannot be redriven"
        )

    def _check_no_overlap(self, first: int, count: int) -> None:
        """A child to run must not hold items of a child that succeeded before (their records are
        carried over: they would be there twice)."""
        at = bisect.bisect_left(self._carried_starts, first + count) - 1
        if at >= 0:
            start = self._carried_starts[at]
            if start + self.carried[start] > first:
                raise self._changed(
                    f"items {first}..{first + count - 1} overlap the child that succeeded with items "
                    f"{start}..{start + self.carried[start] - 1}"
                )

    def _carried_unit(self, first: int, count: int) -> None:
        """A child that succeeded in an earlier attempt: counted, not run again."""
        if self.carried[first] != count:
            raise self._changed(f"the child starting at item {first} had {self.carried[first]} items, now {count}")
        with self._lock:
            self.carried_over += 1
            self.items_total += count
            self.batches += 1
            self.succeeded.append(Unit(first=first, count=count))
            if self.state.ResultWriter is None and self.previous is not None:
                self.outputs[first] = self.previous.outputs.get(first)
        if self.env.on_items_read:
            self.env.on_items_read(count)
        if self.env.on_batch_done:
            self.env.on_batch_done(count, True)

    def _write_results(self, writer: ResultWriterSpec, files: dict[str, _ResultFiles]) -> dict[str, JSON]:
        params = render(writer.Parameters.template(), self.input, self.context)
        bucket = params["Bucket"]
        prefix = params.get("Prefix", "").strip("/")
        base = f"{prefix}/{self.map_run_id}" if prefix else self.map_run_id
        manifest: dict[str, Any] = {
            "DestinationBucket": bucket,
            "MapRunArn": self.map_run_arn,
            "ResultFiles": {"FAILED": [], "PENDING": [], "SUCCEEDED": []},
        }
        manifest_key = f"{base}/manifest.json"
        try:
            for status, result_files in files.items():
                for path in result_files.close():
                    key = f"{base}/{os.path.basename(path)}"
                    self.env.services.put_file(path, bucket, key)
                    manifest["ResultFiles"][status].append({"Key": key, "Size": os.path.getsize(path)})
                    os.remove(path)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".json", delete=False) as fh:
                fh.write(_json(manifest))
            self.env.services.put_file(fh.name, bucket, manifest_key)
            os.remove(fh.name)
        except Exception as exc:  # noqa: BLE001 - the writer's failure fails the map
            raise StatesError(
                "States.ResultWriterFailed", f"cannot write results to s3://{bucket}/{base}: {exc}"
            ) from None
        return {"MapRunArn": self.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": manifest_key}}


class _Stop(Exception):
    """The tolerated failure threshold was exceeded: dispatch no more children."""
