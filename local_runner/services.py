"""asl_runner's ``Services`` for the project's stack: functions of template.yaml
(resolved by their local names and ARNs) run in their own container
(``containers``), AWS APIs on moto."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asl_runner.paths import JSON
from asl_runner.services import Handler, LambdaContext, LocalServices

from . import ACCOUNT, REGION, layer
from .lambda_loader import LocalLambdaContext, load_handler

if TYPE_CHECKING:
    from .environment import LocalEnvironment


class TemplateServices(LocalServices):
    def __init__(self, env: LocalEnvironment, functions: dict[str, Handler] | None = None) -> None:
        super().__init__(functions, region=REGION, account=ACCOUNT)
        self.env = env
        self._logical: dict[str, str] = {}  # function name/ARN -> logical id

    def find_handler(self, function: str) -> tuple[Handler, LambdaContext]:
        for name in self.candidates(function):
            if name in self.functions:
                return self.functions[name], LocalLambdaContext(function.rsplit(":", 1)[-1])
            logical_id = self.env.function_for_arn(name)
            if logical_id:
                spec = self.env.functions[logical_id]
                self._logical[function] = logical_id
                context = LocalLambdaContext(
                    function_name=self.env.physical_name(logical_id),
                    timeout_seconds=spec.timeout,
                    memory_limit_in_mb=int(self.env.resolve(spec.memory_size)),
                )
                return _lazy(spec.module_path, spec.function_name), context
        return super().find_handler(function)

    def call_handler(self, function: str, handler: Handler, event: JSON, context: LambdaContext) -> Any:
        logical_id = self._logical.get(function)
        if logical_id is None or self.env.containers is None:
            return handler(event, context)
        phases = self.env.phases
        phases.function_started(logical_id)
        try:
            with self.env.containers.invocation(logical_id):
                return handler(event, context)
        finally:
            phases.function_ended(logical_id)
            if self.env.quiet:
                layer.discard_metrics()


def _lazy(module_path: Any, function_name: str) -> Handler:
    """The handler, imported on first call (inside its function's environment, as Lambda's init phase)."""

    def call(event: Any, context: Any) -> Any:
        return load_handler(module_path, function_name)(event, context)

    return call
