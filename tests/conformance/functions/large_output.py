from typing import Any


def handler(event: Any, context: Any) -> Any:
    return "a" * (257 * 1024)  # above the 256 KiB of a task's result
