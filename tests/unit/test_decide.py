"""The worker's pure decisions (no database): what each stored state makes of a row."""

from datetime import datetime

from csv_dmap.logic.decide import (
    Candidate,
    Execution,
    codes_by_index,
    committed_before,
    decide,
    inferred_codes,
    outcome_codes,
    replay,
    restore,
)
from csv_dmap.models import ItemResult, RowStatus, StatsWrite, StoredStats

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
    assert (result.status, result.old_login_count, result.old_post_count) == (RowStatus.APPLIED, 1, 2)
    assert writes == [StatsWrite("U1", 7, 8, 1, 2)]  # and the values it replaces, for its retries


def test_a_user_missing_from_users_fails_and_writes_nothing():
    result, writes = one(None)
    assert (result.status, result.error_type, writes) == (RowStatus.FAILED, "UserNotFound", [])


def test_a_user_without_stats_has_no_old_values():
    result, writes = one(StoredStats())
    assert (result.status, result.old_login_count, result.old_post_count) == (RowStatus.APPLIED, None, None)
    assert writes == [StatsWrite("U1", 7, 8, None, None)]  # applied all the same


def test_a_retry_reports_the_values_its_first_attempt_replaced():
    result, writes = one(stored(login=7, post=8, prev=(1, 2), name="run", index=500, start=T))
    assert (result.old_login_count, result.old_post_count) == (1, 2)
    assert writes == [StatsWrite("U1", 7, 8, 1, 2)]  # and it keeps remembering them


def test_a_newer_execution_wins_and_nothing_is_written():
    result, writes = one(stored(name="later", start=datetime(2026, 11, 22, 1)))
    assert (result.status, result.error_type, writes) == (RowStatus.SKIPPED, "NewerExecutionApplied", [])
    assert "later" in result.error_message


def test_equal_start_times_are_ordered_by_name():
    assert one(stored(name="run-z", start=T))[0].status is RowStatus.SKIPPED
    assert one(stored(name="rum", start=T))[0].status is RowStatus.APPLIED


def test_rows_written_before_start_times_were_kept_are_older():
    assert one(stored(name="legacy", start=None))[0].status is RowStatus.APPLIED


def test_another_batch_of_the_same_execution_is_not_newer():
    result, _ = one(stored(name="run", index=0, start=T))
    assert (result.status, result.old_login_count) == (RowStatus.APPLIED, 1)


def test_several_rows_of_a_user_write_once_and_remember_what_the_first_replaced():
    rows = [ROW, Candidate(index=501, line=503, user_id="U1", login_count=9, post_count=10)]
    decision = decide(rows, {"U1": stored()}, RUN)
    assert [decision.results[i].old_login_count for i in (500, 501)] == [1, 7]
    assert decision.writes == [StatsWrite("U1", 9, 10, 1, 2)]


# --------------------------------------------------------------------------- a batch that committed

OTHER = Candidate(index=501, line=503, user_id="U2", login_count=3, post_count=4)
GONE = Candidate(index=502, line=504, user_id="U404", login_count=1, post_count=1)


def test_the_record_keeps_one_code_per_item_in_the_batchs_order():
    decision = decide([ROW, OTHER, GONE], {"U1": stored(), "U2": stored(name="later", start=datetime(2027, 1, 1))}, RUN)
    assert outcome_codes([499, 500, 501, 502], decision.results) == "-ASU"  # 499: settled by the row alone
    assert codes_by_index([499, 500, 501, 502], "-ASU") == {499: "-", 500: "A", 501: "S", 502: "U"}
    assert codes_by_index([500], "-ASU") is None  # a record of other rows


def test_a_replay_answers_as_the_first_attempt_did_from_the_record():
    mine = stored(login=7, post=8, prev=(1, 2), name="run", index=500, start=T)
    newer = stored(name="later", start=datetime(2027, 1, 1))
    again = replay([ROW, OTHER, GONE], {"U1": mine, "U2": newer}, RUN, {500: "A", 501: "S", 502: "U"})
    applied, skipped, missing = (again.results[i] for i in (500, 501, 502))
    assert (applied.status, applied.old_login_count, applied.old_post_count, applied.new_login_count) == (
        RowStatus.APPLIED,
        1,
        2,
        7,
    )
    assert (skipped.status, skipped.error_type) == (RowStatus.SKIPPED, "NewerExecutionApplied")
    assert (missing.status, missing.error_type) == (RowStatus.FAILED, "UserNotFound")
    assert again.keep == frozenset({501})  # the first attempt's SKIPPED item stands


def test_a_row_a_newer_execution_overwrote_since_is_still_applied_with_old_values_unknown():
    newer = stored(login=90, post=90, prev=(7, 8), name="later", start=datetime(2027, 1, 1))
    again = replay([ROW], {"U1": newer}, RUN, {500: "A"})
    result = again.results[500]
    assert (result.status, result.new_login_count, result.old_login_count, result.old_post_count) == (
        RowStatus.APPLIED,
        7,
        None,
        None,
    )
    assert "later" in result.error_message and "unknown" in result.error_message
    assert result.error_type is None
    assert again.keep == frozenset({500})


def test_the_first_attempts_item_gives_its_answer_back():
    overwritten = ItemResult(500, 502, RowStatus.APPLIED, "U1", None, None, 7, None, 8, None, "note")
    first = {"status": "APPLIED", "oldLoginCount": 1, "newLoginCount": 7, "oldPostCount": 2, "newPostCount": 8}
    back = restore(overwritten, first)
    assert (back.old_login_count, back.old_post_count, back.error_message) == (1, 2, None)
    assert restore(overwritten, {"status": "FAILED", "errorType": "X"}) is overwritten


def test_without_a_record_only_the_databases_own_marks_say_the_batch_committed():
    mine = stored(login=7, post=8, prev=(1, 2), name="run", index=500, start=T)
    assert committed_before([ROW], {"U1": mine}, RUN)
    assert not committed_before([ROW], {"U1": stored()}, RUN)
    assert not committed_before([ROW], {"U1": stored(name="run", index=0, start=T)}, RUN)  # another batch
    newer = stored(name="later", start=datetime(2027, 1, 1))
    assert inferred_codes([ROW, OTHER, GONE], {"U1": mine, "U2": newer}, RUN) == {500: "A", 501: "S", 502: "U"}
