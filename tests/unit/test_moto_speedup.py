"""The local stack's moto shortcuts (infra/moto_speedup.py) answer Query exactly as moto does:
run in a fresh interpreter each, since install() patches moto for the whole process."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUERIES = '''
import json, random, sys
import boto3
from moto import mock_aws
with mock_aws():
    if sys.argv[1] == "fast":
        from infra.moto_speedup import install
        install()
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "gs")],
        GlobalSecondaryIndexes=[{"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"}, "KeySchema": [
            {"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}]}])
    rng = random.Random(1)
    for i in range(300):
        item = {"pk": {"S": f"P{i % 17}"}, "sk": {"S": f"S{i}"}}
        if i % 3:  # a sparse index: a third of the items are not in it
            item.update(g={"S": f"G{i % 4}"}, gs={"S": f"{rng.random():.6f}"})
        dynamodb.put_item(TableName="t", Item=item)
    answers = []
    for g in ("G1", "G2", "G9"):
        for forward in (True, False):
            page = dynamodb.query(TableName="t", IndexName="gsi1", KeyConditionExpression="g = :g",
                                  ExpressionAttributeValues={":g": {"S": g}}, ScanIndexForward=forward, Limit=7)
            answers.append([i["sk"]["S"] for i in page["Items"]] + [str(page.get("LastEvaluatedKey"))])
    page = dynamodb.query(TableName="t", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                          ExpressionAttributeValues={":p": {"S": "P3"}, ":s": {"S": "S1"}})
    answers.append([i["sk"]["S"] for i in page["Items"]])
    print(json.dumps(answers))
'''


def _answers(mode: str) -> list:
    env = {"PYTHONPATH": f"{ROOT}:{ROOT / 'layers'}", "PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x"}
    out = subprocess.run([sys.executable, "-c", QUERIES, mode], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_index_and_table_queries_answer_as_moto_does():
    fast = _answers("fast")
    assert fast == _answers("moto")
    assert all(len(page) == 8 for page in fast[:4]) and fast[4] == ["None"]  # 7 items and a next key; G9: none
