"""Run a Lambda handler of the project in-process: load its module from the function
folder (each function's module is called ``app``, so they are loaded by path under
unique names) and give it a LambdaContext-like object with a time budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from asl_runner.services import Handler, LambdaContext
from asl_runner.services import load_handler as _load

from . import ACCOUNT, REGION
from .layer import ensure_layer_on_path
from .template import ROOT


def load_handler(module_path: Path | str, function_name: str = "lambda_handler") -> Handler:
    """Import ``module_path`` once (under a name derived from its path) and return the handler."""
    ensure_layer_on_path()
    path = Path(module_path).resolve()
    name = None
    if path.is_relative_to(ROOT):
        name = "csv_dmap_fn_" + "_".join(path.relative_to(ROOT).with_suffix("").parts).replace("-", "_")
    return _load(path, function_name, module_name=name)


def load_function(folder: str, handler: str = "app.lambda_handler") -> Handler:
    """The handler of ``functions/<folder>``."""
    module, func = handler.rsplit(".", 1)
    return load_handler(ROOT / "functions" / folder / f"{module}.py", func)


@dataclass
class LocalLambdaContext(LambdaContext):
    """asl_runner's LambdaContext in the local stack's region and account."""

    region: str = REGION
    account_id: str = ACCOUNT
