# ruff: noqa: TRY002 - the recorded function raised a bare Exception (errorType Exception)
from typing import Any


def handler(event: Any, context: Any) -> Any:
    raise Exception("Some exception was raised.")
