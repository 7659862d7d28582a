"""The worker's pure decisions (no database): what each stored state makes of a row."""

from datetime import datetime

from csv_dmap.logic.decide import Candidate, Execution, decide, reconcile
from csv_dmap.models import Failure, ItemStatus, StatsWrite, StoredStats

T = datetime(2026, 11, 22, 0, 30)
RUN = Execution("run", T, 500)
ROW = Candidate(index=500, line=502, user_id="U1", login_count=7, post_count=8)


def stored(login=1, post=2, prev=(None, None), name="other", index=0, start=datetime(2026, 11, 21)):
    return StoredStats(login, post, prev[0], prev[1], name, index, start)


def one(state):
    decision = decide([ROW], {"U1": state} if state else {}, RUN)
    return decision.results[500], decision.writes


def test_an_older_write_is_replaced_and_its_values_reported_old():
    result, writes = one(stored())
    assert (result.status, result.old_login_count, result.old_post_count) == (ItemStatus.APPLIED, 1, 2)
    assert writes == [StatsWrite("U1", 7, 8)]


def test_a_user_missing_from_users_fails_and_writes_nothing():
    result, writes = one(None)
    assert (result.status, result.error_type, writes) == (ItemStatus.FAILED, "UserNotFound", [])


def test_a_user_without_stats_has_no_old_values():
    result, writes = one(StoredStats())
    assert (result.status, result.old_login_count, result.old_post_count) == (ItemStatus.APPLIED, None, None)
    assert writes == [StatsWrite("U1", 7, 8)]  # applied all the same


def test_a_retry_reports_the_values_its_first_attempt_replaced():
    result, writes = one(stored(login=7, post=8, prev=(1, 2), name="run", index=500, start=T))
    assert (result.old_login_count, result.old_post_count) == (1, 2)
    assert writes == [StatsWrite("U1", 7, 8)]


def test_a_newer_execution_wins_and_nothing_is_written():
    result, writes = one(stored(name="later", start=datetime(2026, 11, 22, 1)))
    assert (result.status, result.error_type, writes) == (ItemStatus.SKIPPED, "NewerExecutionApplied", [])
    assert "later" in result.error_message


def test_equal_start_times_are_ordered_by_name():
    assert one(stored(name="run-z", start=T))[0].status is ItemStatus.SKIPPED
    assert one(stored(name="rum", start=T))[0].status is ItemStatus.APPLIED


def test_rows_written_before_start_times_were_kept_are_older():
    assert one(stored(name="legacy", start=None))[0].status is ItemStatus.APPLIED


def test_another_batch_of_the_same_execution_is_not_newer():
    result, _ = one(stored(name="run", index=0, start=T))
    assert (result.status, result.old_login_count) == (ItemStatus.APPLIED, 1)


def test_reconcile_keeps_what_the_batch_committed_and_fails_the_rest():
    failure = Failure(Error="AuditWriteError", Cause="x")
    committed = stored(login=7, post=8, prev=(1, 2), name="run", index=500, start=T)
    done = reconcile([ROW], {"U1": committed}, RUN, failure)[500]
    assert (done.status, done.old_login_count, done.new_login_count) == (ItemStatus.APPLIED, 1, 7)
    not_done = reconcile([ROW], {"U1": stored()}, RUN, failure)[500]
    assert (not_done.status, not_done.error_type, not_done.error_message) == (ItemStatus.FAILED, "AuditWriteError", "x")
    unknown = reconcile([ROW], {}, RUN, failure, users_created=True)[500]
    assert unknown.error_type == "AuditWriteError"
    assert reconcile([ROW], {}, RUN, failure)[500].error_type == "UserNotFound"
