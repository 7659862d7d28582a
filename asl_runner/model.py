"""The states of a definition, parsed once into typed objects.

These models are the one description of what the runner supports: lint and
execution both parse through them. A field AWS accepts but the runner does not
implement (``AWS_ONLY``) and a field that is not ASL at all are both rejected,
with the state and the field named; numbers must be numbers within AWS's ranges.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .choice import Branch, parse_rule, timestamp
from .limits import BAD_NAME_CHARACTER

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
SNS_PUBLISH = "arn:aws:states:::sns:publish"

Path = Annotated[str, Field(pattern=r"^\$")]
Template = dict[str, Any]  # a payload template: "x.$" fields are evaluated


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, arbitrary_types_allowed=True)
    AWS_ONLY: ClassVar[frozenset[str]] = frozenset()

    def has(self, name: str) -> bool:
        """Was the field given (as opposed to defaulted)?"""
        return name in self.model_fields_set


class Retrier(_Model):
    ErrorEquals: list[str] = Field(min_length=1)
    IntervalSeconds: int = Field(1, ge=1, le=99_999_999)
    MaxAttempts: int = Field(3, ge=0, le=99_999_999)
    BackoffRate: float = Field(2.0, ge=1)
    MaxDelaySeconds: int | None = Field(None, ge=1, le=31_622_400)
    JitterStrategy: Literal["FULL", "NONE"] = "NONE"
    Comment: str | None = None


class Catcher(_Model):
    AWS_ONLY = frozenset({"Assign"})
    ErrorEquals: list[str] = Field(min_length=1)
    Next: str
    ResultPath: str | None = "$"
    Comment: str | None = None


class _State(_Model):
    AWS_ONLY = frozenset({"Assign", "QueryLanguage"})
    Comment: str | None = None
    InputPath: str | None = "$"
    OutputPath: str | None = "$"


class _Transition(_State):
    Next: str | None = None
    End: Literal[True] | None = None

    @model_validator(mode="after")
    def _one_transition(self) -> _Transition:
        if (self.Next is None) == (self.End is None):
            raise ValueError("exactly one of Next and End is required")
        return self


class ResultState(_Transition):
    """States that produce a result: ResultSelector, ResultPath, Retry, Catch."""

    Parameters: Template | None = None
    ResultSelector: Template | None = None
    ResultPath: str | None = "$"
    Retry: list[Retrier] = []
    Catch: list[Catcher] = []


class Task(ResultState):
    AWS_ONLY = frozenset(
        {
            "Assign",
            "QueryLanguage",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
            "Arguments",
            "Output",
        }
    )
    Type: Literal["Task"]
    Resource: str
    TimeoutSeconds: int | None = Field(None, ge=1)
    TimeoutSecondsPath: Path | None = None

    @model_validator(mode="after")
    def _one_timeout(self) -> Task:
        if self.TimeoutSeconds is not None and self.TimeoutSecondsPath is not None:
            raise ValueError("TimeoutSeconds and TimeoutSecondsPath cannot both be given")
        return self

    @field_validator("Resource")
    @classmethod
    def _supported_resource(cls, value: str) -> str:
        if "${" in value:
            name = value.split("${", 1)[1].split("}", 1)[0]
            raise ValueError(f"unresolved DefinitionSubstitutions placeholder ${{{name}}}")
        if value in (LAMBDA_INVOKE, SNS_PUBLISH) or (value.startswith("arn:aws:lambda:") and ":function:" in value):
            return value
        raise ValueError(
            f"Resource {value!r} is not supported by the runner "
            f"(supported: {LAMBDA_INVOKE}, a Lambda function ARN, {SNS_PUBLISH})"
        )


class Pass(_Transition):
    Type: Literal["Pass"]
    Parameters: Template | None = None
    Result: Any = None
    ResultPath: str | None = "$"


class Choice(_State):
    Type: Literal["Choice"]
    Choices: list[Branch] = Field(min_length=1)
    Default: str | None = None

    @field_validator("Choices", mode="before")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("Choices must be an array of rules")  # noqa: TRY004 - pydantic reports ValueErrors
        branches = []
        for i, raw in enumerate(value):
            rule = parse_rule(raw, f"Choices/{i}", top=True)
            if not isinstance(raw.get("Next"), str):
                raise ValueError(f"Choices/{i}: Next must be a string")  # noqa: TRY004 - as above
            branches.append(Branch(rule, raw["Next"]))
        return branches


class Wait(_Transition):
    Type: Literal["Wait"]
    Seconds: int | None = Field(None, ge=0, le=99_999_999)
    SecondsPath: Path | None = None
    Timestamp: str | None = None
    TimestampPath: Path | None = None

    @field_validator("Timestamp")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is not None and timestamp(value) is None:
            raise ValueError("String does not match RFC3339 timestamp")
        return value

    @model_validator(mode="after")
    def _one_duration(self) -> Wait:
        given = [f for f in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if self.has(f)]
        if len(given) != 1:
            raise ValueError("exactly one of Seconds, SecondsPath, Timestamp, TimestampPath is required")
        return self


class Succeed(_State):
    Type: Literal["Succeed"]


class Fail(_Model):
    AWS_ONLY = frozenset({"QueryLanguage"})
    Type: Literal["Fail"]
    Comment: str | None = None
    Error: str | None = None
    ErrorPath: str | None = None
    Cause: str | None = None
    CausePath: str | None = None


class Machine(_Model):
    """StartAt and States: a state machine, a Parallel branch, an Iterator."""

    Comment: str | None = None
    StartAt: str
    States: dict[Annotated[str, Field(max_length=80)], State] = Field(min_length=1)


class ProcessorConfigSpec(_Model):
    Mode: Literal["INLINE", "DISTRIBUTED"] = "INLINE"
    ExecutionType: Literal["STANDARD", "EXPRESS"] = "STANDARD"


class ItemProcessorSpec(Machine):
    ProcessorConfig: ProcessorConfigSpec = ProcessorConfigSpec()


class Parallel(ResultState):
    Type: Literal["Parallel"]
    Branches: list[Machine] = Field(min_length=1)


class ReaderConfigSpec(_Model):
    AWS_ONLY = frozenset({"ManifestType"})
    InputType: Literal["CSV", "JSON", "JSONL"] = "JSON"
    CSVHeaderLocation: Literal["FIRST_ROW", "GIVEN"] = "FIRST_ROW"
    CSVHeaders: list[str] | None = None
    CSVDelimiter: Literal["COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"] = "COMMA"
    MaxItems: int | None = Field(None, ge=0, le=100_000_000)
    MaxItemsPath: Path | None = None


class S3Location(_Model):
    """The Parameters of an ItemReader / ResultWriter (a payload template of these fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=False)
    Bucket: str | None = None
    Bucket_: str | None = Field(None, alias="Bucket.$")
    Key: str | None = None
    Key_: str | None = Field(None, alias="Key.$")
    VersionId: str | None = None
    VersionId_: str | None = Field(None, alias="VersionId.$")
    Prefix: str | None = None
    Prefix_: str | None = Field(None, alias="Prefix.$")

    def template(self) -> Template:
        return self.model_dump(by_alias=True, exclude_unset=True)


class ItemReaderSpec(_Model):
    Resource: Literal["arn:aws:states:::s3:getObject"]
    ReaderConfig: ReaderConfigSpec = ReaderConfigSpec()
    Parameters: S3Location = S3Location()


class ItemBatcherSpec(_Model):
    MaxItemsPerBatch: int | None = Field(None, ge=1)
    MaxItemsPerBatchPath: Path | None = None
    MaxInputBytesPerBatch: int | None = Field(None, ge=1, le=262_144)
    MaxInputBytesPerBatchPath: Path | None = None
    BatchInput: Template | None = None

    @model_validator(mode="after")
    def _some_limit(self) -> ItemBatcherSpec:
        if not any(
            self.has(f)
            for f in ("MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")
        ):
            raise ValueError("an ItemBatcher needs MaxItemsPerBatch(Path) or MaxInputBytesPerBatch(Path)")
        return self


class ResultWriterSpec(_Model):
    AWS_ONLY = frozenset({"WriterConfig"})
    Resource: Literal["arn:aws:states:::s3:putObject"]
    Parameters: S3Location = S3Location()


class Map(ResultState):
    Type: Literal["Map"]
    ItemsPath: Path = "$"
    ItemReader: ItemReaderSpec | None = None
    ItemSelector: Template | None = None
    ItemBatcher: ItemBatcherSpec | None = None
    ItemProcessor: ItemProcessorSpec | None = None
    Iterator: ItemProcessorSpec | None = None  # the older name; AWS takes a ProcessorConfig in it too
    ResultWriter: ResultWriterSpec | None = None
    MaxConcurrency: int = Field(0, ge=0, le=10_000)
    MaxConcurrencyPath: Path | None = None
    ToleratedFailurePercentage: float = Field(0, ge=0, le=100)
    ToleratedFailurePercentagePath: Path | None = None
    ToleratedFailureCount: int = Field(0, ge=0)
    ToleratedFailureCountPath: Path | None = None
    Label: str | None = None

    @field_validator("Label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        """AWS's rules and words (recorded by AWS: LocalStack's snapshots
        ``test_sfn_api_map_run.py::TestSnfApiMapRun::test_map_state_label_*``): the characters an
        execution name cannot hold, at most 40 characters, not empty."""
        if value is None:
            return value
        if not value:
            raise ValueError("Label cannot be empty")
        if len(value) > 40:
            raise ValueError("Label cannot exceed 40 characters")
        bad = BAD_NAME_CHARACTER.search(value)
        if bad:
            raise ValueError(f"Label contains invalid character: {bad.group(0)!r}")
        return value

    @model_validator(mode="after")
    def _one_processor(self) -> Map:
        if (self.ItemProcessor is None) == (self.Iterator is None):
            raise ValueError("exactly one of ItemProcessor and Iterator is required")
        return self

    @property
    def processor(self) -> ItemProcessorSpec:
        processor = self.ItemProcessor or self.Iterator
        assert processor is not None  # checked by _one_processor
        return processor

    @property
    def distributed(self) -> bool:
        return self.processor.ProcessorConfig.Mode == "DISTRIBUTED"

    @property
    def selector(self) -> Template | None:
        return self.ItemSelector if self.ItemSelector is not None else self.Parameters


State = Annotated[Task | Pass | Choice | Wait | Succeed | Fail | Parallel | Map, Field(discriminator="Type")]
STATE_TYPES: dict[str, type[_Model]] = {
    "Task": Task,
    "Pass": Pass,
    "Choice": Choice,
    "Wait": Wait,
    "Succeed": Succeed,
    "Fail": Fail,
    "Parallel": Parallel,
    "Map": Map,
}


class Definition(Machine):
    """A whole state machine."""

    TimeoutSeconds: int | None = Field(None, ge=1)
    Version: str | None = None
    QueryLanguage: Literal["JSONPath"] = "JSONPath"


for _model in (Machine, ItemProcessorSpec, Parallel, Map, Definition):
    _model.model_rebuild()


# --------------------------------------------------------------------------- parsing


def parse(definition: Any) -> Definition:
    """The typed definition; ``ParseError`` lists every problem, each naming state and field."""
    try:
        return Definition.model_validate(definition)
    except ValidationError as exc:
        raise ParseError([_describe(e) for e in exc.errors(include_url=False)]) from None


class ParseError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _where(loc: tuple[int | str, ...]) -> tuple[list[str], str | None]:
    """The path of an error without pydantic's union tags, and the type of the innermost state."""
    parts: list[str] = ["States"] if not loc or loc[0] != "States" else []
    kind = None
    i = 0
    while i < len(loc):
        part = str(loc[i])
        parts.append(part)
        if part == "States" and i + 2 < len(loc) and str(loc[i + 2]) in STATE_TYPES:
            parts.append(str(loc[i + 1]))
            kind = str(loc[i + 2])
            i += 3
            continue
        i += 1
    if parts[:2] == ["States", "States"]:
        parts = parts[1:]
    return parts, kind


def _owner(parts: list[str], kind: str | None) -> str:
    last = parts[-2] if len(parts) >= 2 else "definition"
    if kind and (len(parts) < 3 or parts[-3] == "States"):
        return f"a {kind} state"
    return last


def _aws_only(parts: list[str], kind: str | None, field: str) -> bool:
    model = STATE_TYPES.get(kind or "") if len(parts) >= 3 and parts[-3] == "States" else None
    if model is not None:
        return field in model.AWS_ONLY
    owners: dict[str, type[_Model]] = {"ReaderConfig": ReaderConfigSpec, "ResultWriter": ResultWriterSpec}
    owner = owners.get(parts[-2] if len(parts) >= 2 else "")
    return (owner is not None and field in owner.AWS_ONLY) or field == "Assign"


def _describe(error: Any) -> str:
    parts, kind = _where(tuple(error["loc"]))
    if error["type"] == "extra_forbidden":
        field = parts[-1]
        here = "/".join(parts[:-1])
        if _aws_only(parts, kind, field):
            return f"{here}: field {field} of {_owner(parts, kind)} is not supported by the runner"
        return f"{here}: field {field} is not an ASL field of {_owner(parts, kind)}"
    message = str(error["msg"]).removeprefix("Value error, ")
    got = error.get("input")
    detail = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r:.80})"
    return f"{'/'.join(parts)}: {message}{detail}"
