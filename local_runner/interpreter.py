"""Compatibility names: the interpreter is ``asl_runner`` now."""

from asl_runner import DefinitionError, Execution, ExecutionResult, RunOptions

__all__ = ["DefinitionError", "Execution", "ExecutionResult", "RunOptions"]
