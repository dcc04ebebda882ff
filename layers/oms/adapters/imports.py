"""The imports bucket (OMS_IMPORTS_BUCKET): warehouse counts as the API received them, or as a
warehouse system dropped them (CSV). Its ObjectCreated events go to the imports queue."""
from __future__ import annotations

import json
import os
from functools import cache

API_PREFIX = "snapshots/api/"


@cache
def _s3():
    import boto3

    return boto3.client("s3")


class S3Imports:
    def put_snapshot(self, snapshot_id: str, body: dict) -> None:
        _s3().put_object(Bucket=os.environ["OMS_IMPORTS_BUCKET"], Key=f"{API_PREFIX}{snapshot_id}.json",
                         Body=json.dumps(body).encode(), ContentType="application/json")

    def read(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]]:
        """The object's bytes and its user metadata (x-amz-meta-*, lower-case names)."""
        answer = _s3().get_object(Bucket=bucket, Key=key)
        return answer["Body"].read(), {k.lower(): v for k, v in answer.get("Metadata", {}).items()}
