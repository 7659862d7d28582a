"""Load a function's handler module by path (every function's module is called ``app``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def handler_module(function_dir: str) -> ModuleType:
    path = ROOT / "functions" / function_dir / "app.py"
    spec = importlib.util.spec_from_file_location(f"csv_dmap_fn_{function_dir}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    """The bits of a LambdaContext Powertools' logger reads."""

    function_name = "test"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000  # a fresh invocation of a function with Timeout 900
