"""Powertools Logger, Tracer and Metrics, configured once for every function.

Service name and metrics namespace come from the standard Powertools
variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE) that the
template sets in Globals, so handlers only import these three objects.
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics()
