"""Named errors of the pipeline.

The class name of an exception raised out of a Lambda handler becomes the
``Error`` that Step Functions sees, so these names are part of the contract
with ``statemachine/definition.asl.json`` (Retry / Catch ``ErrorEquals``).
"""

from __future__ import annotations


class CsvDmapError(Exception):
    """Base class for every error this project raises on purpose."""


class TransientDatabaseError(CsvDmapError):
    """The database could not be reached or refused the work for now
    (connection lost, deadlock, lock wait timeout, throttling).

    Raised out of the worker so that Step Functions retries the whole batch
    (the ASL retries ``TransientDatabaseError`` with backoff and jitter).
    Applying a batch is idempotent, so a retry is always safe.
    """


class AuditWriteError(CsvDmapError):
    """DynamoDB kept returning UnprocessedItems after every retry.

    Transient as well: the ASL retries the batch, and the deterministic audit
    keys make the retry overwrite rather than duplicate.
    """


class ConfigurationError(CsvDmapError):
    """A setting is missing or inconsistent (for example no database URL and
    no secret). Not retried: a person has to fix the stack."""


class UnverifiableDatabaseTls(ConfigurationError):
    """TLS to a database host whose certificate the system trust store cannot verify (a cluster
    or instance endpoint, whose RDS CA it lacks) and no CA bundle given."""


class InputRejected(CsvDmapError):
    """A file the pipeline cannot process. The ASL ends the execution through
    a Fail state whose Error is the subclass name and whose Cause is this
    message: write it for the operator who has to fix the file."""


class EmptyFile(InputRejected):
    """The object has no bytes, or a header and no data rows."""


class InvalidHeader(InputRejected):
    """The first row does not name the user id, login count and post count columns."""


class UnsupportedEncoding(InputRejected):
    """The bytes are neither UTF-8 (with or without BOM) nor CP932/Shift_JIS."""


class FileTooLarge(InputRejected):
    """The object is larger than the configured maximum (MaxInputBytes)."""


class InputNotFound(InputRejected):
    """The object named in the execution input does not exist (or is not readable)."""


# audit:
class AuditWriteRejected(CsvDmapError):
    """DynamoDB refused an audit write for a reason a retry cannot cure
    (ValidationException, missing table, access denied). Not retried by the
    ASL: the message names the error code so a person can fix the stack or
    the item builder."""


class InvalidEvent(CsvDmapError):
    """An event the function cannot act on (deploy: StartRun, RunStatus): a field it needs is
    missing. Not retried: the event goes to the dead-letter queue for a person to look at."""


# worker:
class PermanentDatabaseError(CsvDmapError):
    """The database refused the batch for a reason a retry will not change (a
    missing table, a constraint, access denied). Not retried by the ASL: the
    ItemProcessor reconciles the batch and reports its rows failed with this
    name; the message is the driver's one-line cause."""


class BatchNotApplied(CsvDmapError):
    """ReconcileBatch found that the batch never committed (``applied_batches`` has no record
    of it): none of its rows is applied. Raised so that the child execution FAILS with this
    Error and its Map Run can be redriven to apply the batch; no audit item is written. The
    message is one line naming the error the batch's last attempt failed with."""

    @classmethod
    def after(cls, error: str, message: str) -> BatchNotApplied:
        """``<Error>: <its message> — the batch did not commit; redrive ...``, on one line."""
        error, message = " ".join(error.split())[:80], " ".join(message.split())
        return cls(f"{error}: {message} — the batch did not commit; redrive the execution to apply it")


class RecordTooLarge(InputRejected):
    """A physical line above 16 MiB, or a record above 16 Mi characters (an unclosed quote,
    typically): beyond what a row limit can handle with bounded memory, so the file is rejected
    naming the line. Below that bound a long field or row only fails its row (FieldTooLong,
    RowTooLong)."""
