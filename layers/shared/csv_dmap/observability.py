"""Powertools Logger, Tracer and Metrics, configured once for every function.

Service name and metrics namespace come from the standard Powertools
variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE) that the
template sets in Globals, so handlers only import these objects.

:func:`log_metrics` publishes what a handler added, as Powertools' ``Metrics.log_metrics``
does, for a handler that may end with nothing to publish (ValidateInput rejects a file
before it counts rows). Powertools' decorator flushes even an empty set, and its
``flush_metrics`` then warns "No application metrics to publish" (``raise_on_empty_metrics``
only turns the warning into an error). Powertools documents flushing by hand instead of the
decorator ("Flushing metrics manually",
https://docs.powertools.aws.dev/lambda/python/latest/core/metrics/#flushing-metrics-manually):
here it happens only when there is something to flush. The docs' other remedy, a warnings
filter on that message, would silence the warning for every function of the process, also
one that should have published and did not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()


def log_metrics[Handler: Callable[..., Any]](handler: Handler) -> Handler:
    """Publish the metrics ``handler`` added (also when it raises), and nothing when it added none."""

    @functools.wraps(handler)
    def publishing(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return handler(event, context, *args, **kwargs)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return publishing  # type: ignore[return-value]
