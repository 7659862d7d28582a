"""Compatibility names: the strict ASL check is ``asl_runner.lint`` now."""

from asl_runner.lint import lint, lint_file

__all__ = ["lint", "lint_file"]
