from typing import Any


def handler(event: Any, context: Any) -> Any:
    return b'"HelloWorld!"'  # bytes: the runtime sends them as they are, a JSON text
