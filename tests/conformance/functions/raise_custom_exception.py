from typing import Any


class CustomException(Exception):
    def __init__(self) -> None:
        self.message = "CustomException message"  # an attribute: str() of the exception stays ""


def handler(event: Any, context: Any) -> Any:
    raise CustomException()
