"""Run a Lambda handler in-process: load its module from the function folder
(each function's module is called ``app``, so they are loaded by path under
unique names) and give it a LambdaContext-like object with a time budget."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import ACCOUNT, REGION

ROOT = Path(__file__).resolve().parent.parent
SHARED_LAYER = ROOT / "layers" / "shared"


def ensure_layer_on_path() -> None:
    """Make the shared layer importable, as /opt/python is in Lambda."""
    if str(SHARED_LAYER) not in sys.path:
        sys.path.insert(0, str(SHARED_LAYER))


_loaded: dict[tuple[Path, str], Callable] = {}


def load_handler(module_path: Path | str, function_name: str = "lambda_handler") -> Callable:
    """Import ``module_path`` once (under a unique module name) and return the handler."""
    ensure_layer_on_path()
    path = Path(module_path).resolve()
    key = (path, function_name)
    if key not in _loaded:
        name = "csv_dmap_fn_" + "_".join(path.relative_to(ROOT).with_suffix("").parts).replace("-", "_") \
            if path.is_relative_to(ROOT) else "csv_dmap_fn_" + uuid.uuid4().hex
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load handler module {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        _loaded[key] = getattr(module, function_name)
    return _loaded[key]


def load_function(folder: str, handler: str = "app.lambda_handler") -> Callable:
    """The handler of ``functions/<folder>``."""
    module, func = handler.rsplit(".", 1)
    return load_handler(ROOT / "functions" / folder / f"{module}.py", func)


@dataclass
class LocalLambdaContext:
    """The attributes of ``awslambdaric``'s LambdaContext that code reads."""

    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    region: str = REGION
    account_id: str = ACCOUNT
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self):
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
