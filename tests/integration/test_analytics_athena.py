"""The Athena adapter against moto's Athena: the query sent is the translated one, in the
workgroup and database the template declares, and the answer is typed from Athena's column
metadata (moto runs no SQL; its answers are queued the way moto documents)."""
from __future__ import annotations

from datetime import date, datetime

import pytest


@pytest.fixture
def athena():
    import boto3
    from moto import mock_aws
    from moto.athena.models import QueryResults, athena_backends

    with mock_aws():
        client = boto3.client("athena")
        client.create_work_group(Name="oms-test", Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://oms-test-analytics/athena-results/"}})
        backend = athena_backends["123456789012"]["us-east-1"]

        def answer(columns, rows):
            header = {"Data": [{"VarCharValue": name} for name, _ in columns]}
            backend.query_results_queue.append(QueryResults(
                rows=[header] + [{"Data": [{"VarCharValue": v} if v is not None else {} for v in row]} for row in rows],
                column_info=[{"Name": name, "Type": kind} for name, kind in columns]))

        yield client, backend, answer


def test_the_translated_query_runs_in_the_workgroup_and_comes_back_typed(athena):
    from analytics import sql
    from analytics.store import AthenaEngine

    client, backend, answer = athena
    answer([("customer_id", "varchar"), ("frequency", "bigint"), ("first_day", "date"), ("last_day", "date"),
            ("repeat_amount", "bigint")],
           [("c1", "2", "1997-01-01", "1997-03-01", "4550"), ("c2", "0", "1997-02-01", "1997-02-01", None)])
    engine = AthenaEngine(workgroup="oms-test", database="oms_test")
    rows = engine.query(sql.purchase_history(datetime(1997, 10, 1), "USD"))
    assert rows == [
        {"customer_id": "c1", "frequency": 2, "first_day": date(1997, 1, 1), "last_day": date(1997, 3, 1),
         "repeat_amount": 4550},
        {"customer_id": "c2", "frequency": 0, "first_day": date(1997, 2, 1), "last_day": date(1997, 2, 1),
         "repeat_amount": None}]
    [execution] = backend.executions.values()
    assert execution.workgroup.name == "oms-test" and execution.context["Database"] == "oms_test"
    assert execution.query == sql.to_athena(sql.purchase_history(datetime(1997, 10, 1), "USD"))


def test_a_failed_query_says_why(athena, monkeypatch):
    from analytics.store import AthenaEngine, QueryFailed

    client, _, _ = athena
    engine = AthenaEngine(workgroup="oms-test", database="oms_test")
    real = engine.athena.get_query_execution

    def failed(**kwargs):
        execution = real(**kwargs)
        execution["QueryExecution"]["Status"] = {"State": "FAILED", "StateChangeReason": "TABLE_NOT_FOUND: orders"}
        return execution

    monkeypatch.setattr(engine.athena, "get_query_execution", failed)
    with pytest.raises(QueryFailed, match="TABLE_NOT_FOUND"):
        engine.query("SELECT 1")
