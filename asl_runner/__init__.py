"""asl_runner: run Amazon States Language definitions (JSONPath mode) on one machine.

A generic tool: it knows nothing of any application. Lambda handlers run
in-process, AWS APIs go through boto3 (moto, LocalStack or an account), all
behind the ``Services`` protocol; AWS's limits hold (256 KiB payloads, 25,000
history events, Error/Cause lengths). ``python -m asl_runner {lint,exec}``.
"""

from .errors import DefinitionError, StatesError
from .interpreter import Execution, ExecutionResult, RunOptions, prepare
from .lint import lint, lint_file, load_definition
from .model import Definition, parse
from .services import LambdaContext, LocalServices, Services, load_handler

__all__ = [
    "Definition",
    "DefinitionError",
    "Execution",
    "ExecutionResult",
    "LambdaContext",
    "LocalServices",
    "RunOptions",
    "Services",
    "StatesError",
    "lint",
    "lint_file",
    "load_definition",
    "load_handler",
    "parse",
    "prepare",
]
