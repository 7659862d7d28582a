"""What Task states, ItemReader and ResultWriter talk to: the ``Services`` protocol,
and ``LocalServices``, an implementation with Lambda handlers called in-process
and AWS APIs through boto3 (point it at moto, LocalStack or a real account)."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Protocol

from .errors import StatesError
from .limits import check_payload
from .paths import JSON

Handler = Callable[[Any, Any], Any]


class Services(Protocol):
    """The narrow interface between the interpreter and the outside world."""

    def invoke_function(self, function: str, payload: JSON) -> JSON:
        """Run a Lambda function (name or ARN) synchronously; a failure is a ``StatesError``."""

    def publish(self, parameters: JSON) -> JSON:
        """``sns:publish`` with the state's Parameters; returns at least MessageId."""

    def open_object(self, bucket: str, key: str, version_id: str | None) -> IO[bytes]:
        """An S3 object's body, for an ItemReader (any exception fails the reader)."""

    def put_file(self, path: str, bucket: str, key: str) -> None:
        """Upload a file, for a ResultWriter (any exception fails the writer)."""


@dataclass
class LambdaContext:
    """The attributes of ``awslambdaric``'s LambdaContext that handlers read."""

    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HandlerLoadError(ImportError):
    pass


_LOADING = threading.Lock()


def load_handler(
    module_path: Path | str, function_name: str = "lambda_handler", module_name: str | None = None
) -> Handler:
    """Import a handler file under a unique module name, once per process even when a map's
    children ask for it at the same moment; ``HandlerLoadError`` says why it cannot."""
    path = Path(module_path).resolve()
    if not path.is_file():
        raise HandlerLoadError(f"handler file {module_path} does not exist")
    name = module_name or "asl_fn_" + uuid.uuid5(uuid.NAMESPACE_URL, str(path)).hex
    with _LOADING:
        module = _module(name, path, module_path)
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise HandlerLoadError(f"{module_path} has no function {function_name!r}")
    return handler  # type: ignore[no-any-return]


def _module(name: str, path: Path, module_path: Path | str) -> ModuleType:
    if name in sys.modules:
        module = sys.modules[name]
    else:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise HandlerLoadError(f"cannot load handler module {path}")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise HandlerLoadError(f"cannot import {module_path}: {type(exc).__name__}: {exc}") from exc
        sys.modules[name] = module
    return module


def function_error(exc: BaseException, request_id: str, handler: Handler | None = None) -> StatesError:
    """A Lambda function's exception as Step Functions reports it: Error = the type's name, Cause =
    the error document of Lambda's Python runtime, as its ``json.dumps`` writes it: errorMessage,
    errorType, requestId and stackTrace, the frames from the handler's own on (the runtime's are
    left out), each as ``traceback.format_list`` writes it (recorded by AWS: LocalStack's snapshot
    ``test_task_lambda.py::TestTaskLambda::test_raise_exception``)."""
    name = type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    code = getattr(handler, "__code__", None)
    if code is not None:
        first = next((i for i, f in enumerate(frames) if (f.filename, f.name) == (code.co_filename, code.co_name)), 0)
        frames = traceback.StackSummary.from_list(frames[first:])
    return StatesError(
        name,
        json.dumps(
            {
                "errorMessage": str(exc),
                "errorType": name,
                "requestId": request_id,
                "stackTrace": traceback.format_list(frames[-20:]),
            },
            ensure_ascii=False,
        ),
    )


class LocalServices:
    """Lambda handlers registered by name or ARN and called in-process; S3 and SNS through boto3."""

    def __init__(
        self, functions: dict[str, Handler] | None = None, *, region: str = "us-east-1", account: str = "123456789012"
    ) -> None:
        self.functions = dict(functions or {})
        self.region, self.account = region, account

    def register(self, name_or_arn: str, handler: Handler) -> None:
        self.functions[name_or_arn] = handler

    def candidates(self, function: str) -> list[str]:
        names = [function]
        if ":function:" in function:
            name = function.split(":function:", 1)[1].split(":", 1)[0]
            names += [name, f"arn:aws:lambda:{self.region}:{self.account}:function:{name}"]
        return names

    def find_handler(self, function: str) -> tuple[Handler, LambdaContext]:
        for name in self.candidates(function):
            if name in self.functions:
                short = function.rsplit(":", 1)[-1]
                return self.functions[name], LambdaContext(short, region=self.region, account_id=self.account)
        raise StatesError("Lambda.ResourceNotFoundException", self.not_found(function))

    def not_found(self, function: str) -> str:
        """Lambda's answer to an unknown function, as Step Functions reports it (recorded by AWS:
        LocalStack's snapshot ``test_task_service_lambda.py::TestTaskServiceLambda::test_no_such_function``)."""
        name = function.split(":function:", 1)[1] if ":function:" in function else function
        qualified = name if ":" in name else f"{name}:$LATEST"
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{qualified}"
        return (
            f"Function not found: {arn} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; "
            f"Request ID: {uuid.uuid4()}; Proxy: null)"
        )

    def call_handler(self, function: str, handler: Handler, event: JSON, context: LambdaContext) -> JSON:
        """Run the handler; subclasses wrap this (environment, container state)."""
        return handler(event, context)

    def invoke_function(self, function: str, payload: JSON) -> JSON:
        handler, context = self.find_handler(function)
        event = json.loads(json.dumps(payload))  # what crosses the wire is JSON
        check_payload(event, f"the payload to {function}")
        try:
            result = self.call_handler(function, handler, event, context)
        except StatesError:
            raise
        except Exception as exc:
            raise function_error(exc, context.aws_request_id, handler) from exc
        if isinstance(result, (bytes, bytearray)):
            # Lambda's Python runtime sends bytes as they are: a JSON text (recorded by AWS:
            # LocalStack's snapshot test_lambda_task.py::TestTaskLambda::test_invoke_bytes_payload)
            text = bytes(result).decode("utf-8")
        else:
            text = json.dumps(result, ensure_ascii=False, default=str)
        output: JSON = json.loads(text)
        return output  # its size is the state's to check (a task's result over 256 KiB: limits.check_result)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=self.region)

    def publish(self, parameters: JSON) -> JSON:
        try:
            response = self._client("sns").publish(**parameters)
        except Exception as exc:
            raise StatesError(f"SNS.{type(exc).__name__}", str(exc)) from exc
        return {"MessageId": response["MessageId"], "SdkHttpMetadata": {"HttpStatusCode": 200}}

    def open_object(self, bucket: str, key: str, version_id: str | None) -> IO[bytes]:
        extra = {"VersionId": version_id} if version_id else {}
        body: IO[bytes] = self._client("s3").get_object(Bucket=bucket, Key=key, **extra)["Body"]
        return body

    def put_file(self, path: str, bucket: str, key: str) -> None:
        self._client("s3").upload_file(path, bucket, key)
