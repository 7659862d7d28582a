"""Comments: ``v2/comments/test_comments.py``."""

from __future__ import annotations

from ..functions import handler
from ..harness import Run, Scenario
from .common import FUNCTION, end, function_arn, machine, sid, to

_T = "comments/test_comments.py::TestComments::"

SCENARIOS = [
    Scenario(
        sid(_T + "test_comments_as_per_docs"),
        (
            Run(
                machine(
                    {
                        "SetupInitialCondition": to(
                            "TaskStateCatchRetry",
                            {"Type": "Pass", "Comment": "a failing condition", "Result": {"status": "incomplete"}},
                        ),
                        "TaskStateCatchRetry": to(
                            "IsComplete",
                            {
                                "Type": "Task",
                                "Resource": function_arn(),
                                "Comment": "returns its input",
                                "Catch": [
                                    {"ErrorEquals": ["States.TaskFailed"], "Next": "FailState", "Comment": "caught"}
                                ],
                                "Retry": [
                                    {
                                        "ErrorEquals": ["States.ALL"],
                                        "IntervalSeconds": 3,
                                        "MaxAttempts": 1,
                                        "BackoffRate": 1.0,
                                        "Comment": "once more",
                                    }
                                ],
                            },
                        ),
                        "IsComplete": {
                            "Type": "Choice",
                            "Comment": "done?",
                            "Choices": [
                                {
                                    "And": [{"Variable": "$.status", "StringEquals": "complete", "Comment": "done"}],
                                    "Comment": "then succeed",
                                    "Next": "SuccessState",
                                }
                            ],
                            "Default": "WaitState",
                        },
                        "WaitState": to("CorrectCondition", {"Type": "Wait", "Seconds": 5, "Comment": "a pause"}),
                        "CorrectCondition": to(
                            "TaskStateCatchRetry",
                            {"Type": "Pass", "Comment": "fixed", "Result": {"status": "complete"}},
                        ),
                        "SuccessState": {"Type": "Succeed", "Comment": "the end"},
                        "FailState": {
                            "Type": "Fail",
                            "Error": "TaskFailed",
                            "Cause": "The task failed.",
                            "Comment": "no",
                        },
                    },
                    Comment="comments everywhere the language allows one",
                )
            ),
        ),
        functions={FUNCTION: handler("identity")},
        substitutions={FUNCTION: "lambda_function_1_name"},
    ),
    Scenario(
        sid(_T + "test_comment_in_parameters"),
        (
            Run(
                machine(
                    {
                        "StartState": end(
                            {
                                "Type": "Pass",
                                "Parameters": {
                                    "Comment": "Comment text",
                                    "comment": "comment text",
                                    "constant": "constant text",
                                },
                            }
                        )
                    }
                )
            ),
        ),
    ),
]
