"""The analytics store: Parquet files on S3 under `facts/<table>/dt=YYYY-MM-DD/`, written by
DuckDB and read by Athena in AWS or by DuckDB in-process on a laptop, with the same SQL
(analytics.sql). DuckDB reads S3 through its httpfs extension, which the pinned
`duckdb-extension-httpfs` package ships: nothing is downloaded at run time."""
from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlparse

import boto3

from .facts import TABLES, Rows


class QueryFailed(Exception):
    """The engine could not answer (Athena's reason, or DuckDB's)."""


def bucket() -> str:
    return os.environ["OMS_ANALYTICS_BUCKET"]


def _duckdb(s3: bool = False):
    import duckdb

    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    if s3:
        import duckdb_extension_httpfs

        extension = next(Path(duckdb_extension_httpfs.__file__).parent.glob("extensions/*/httpfs.duckdb_extension"))
        connection.execute(f"LOAD '{extension}'")
    return connection


def _s3_secret(connection) -> None:
    """The process's AWS credentials (Lambda's role, or the local stack's) for DuckDB's S3 reads."""
    credentials = boto3.Session().get_credentials().get_frozen_credentials()
    options = {"KEY_ID": credentials.access_key, "SECRET": credentials.secret_key,
               "REGION": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    if credentials.token:
        options["SESSION_TOKEN"] = credentials.token
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        parsed = urlparse(endpoint)
        options.update(ENDPOINT=parsed.netloc, URL_STYLE="path", USE_SSL=str(parsed.scheme == "https").lower())
    settings = ", ".join(f"{key} {value}" if key == "USE_SSL" else f"{key} '{value}'" for key, value in options.items())
    connection.execute(f"CREATE OR REPLACE SECRET analytics_s3 (TYPE s3, {settings})")


class FactWriter:
    """Appends rows as one Parquet file per table per batch, in today's partition."""

    def __init__(self, bucket_name: str | None = None, s3=None, clock=lambda: datetime.now(UTC)):
        self.bucket = bucket_name or bucket()
        self.s3 = s3 or boto3.client("s3")
        self.clock = clock

    def write(self, rows: Rows) -> list[str]:
        day, batch = self.clock().date().isoformat(), uuid.uuid4().hex
        keys = []
        with tempfile.TemporaryDirectory() as folder:
            connection = None
            for table, records in sorted(rows.items()):
                if not records:
                    continue
                connection = connection or _duckdb()
                path = _parquet(connection, Path(folder), table, records)
                key = f"facts/{table}/dt={day}/{batch}.parquet"
                self.s3.upload_file(str(path), self.bucket, key)
                keys.append(key)
        return keys


def _parquet(connection, folder: Path, table: str, records: list[dict]) -> Path:
    source, target = folder / f"{table}.ndjson", folder / f"{table}.parquet"
    source.write_text("\n".join(json.dumps(record) for record in records))
    columns = TABLES[table]
    spec = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns) + "}"
    names = ", ".join(name for name, _ in columns)
    connection.execute(f"COPY (SELECT {names} FROM read_json('{source}', format = 'newline_delimited', "
                       f"columns = {spec})) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
    return target


class DuckDBEngine:
    """In-process: every fact table a view over its Parquet files on S3 (empty, typed, before
    the first file lands)."""

    def __init__(self, bucket_name: str | None = None):
        self.bucket = bucket_name or bucket()
        self.s3 = boto3.client("s3")

    def query(self, sql: str) -> list[dict]:
        connection = _duckdb(s3=True)
        try:
            _s3_secret(connection)
            for table, columns in TABLES.items():
                connection.execute(f"CREATE TEMP VIEW {table} AS {self._source(table, columns)}")
            cursor = connection.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        except Exception as error:
            if type(error).__module__.startswith("duckdb") or type(error).__module__.startswith("_duckdb"):
                raise QueryFailed(str(error)) from error
            raise
        finally:
            connection.close()

    def _source(self, table: str, columns) -> str:
        names = ", ".join(name for name, _ in columns)
        if self.s3.list_objects_v2(Bucket=self.bucket, Prefix=f"facts/{table}/", MaxKeys=1).get("KeyCount"):
            return (f"SELECT {names}, dt FROM read_parquet('s3://{self.bucket}/facts/{table}/*/*.parquet', "
                    f"hive_partitioning = true, hive_types = {{'dt': DATE}}, union_by_name = true)")
        typed = ", ".join(f"CAST(NULL AS {kind}) AS {name}" for name, kind in columns)
        return f"SELECT {typed}, CAST(NULL AS DATE) AS dt WHERE false"


ATHENA_TYPES = {"bigint": int, "integer": int, "int": int, "smallint": int, "tinyint": int, "double": float,
                "float": float, "real": float, "boolean": lambda v: v == "true",
                "date": date.fromisoformat, "timestamp": lambda v: datetime.fromisoformat(v)}


class AthenaEngine:
    """Athena over the Glue tables the template declares (the workgroup keeps the results)."""

    def __init__(self, workgroup: str | None = None, database: str | None = None, timeout_s: float = 25.0):
        self.workgroup = workgroup or os.environ["OMS_ATHENA_WORKGROUP"]
        self.database = database or os.environ["OMS_GLUE_DATABASE"]
        self.athena = boto3.client("athena")
        self.timeout_s = timeout_s

    def query(self, sql: str) -> list[dict]:
        from .sql import to_athena  # sqlglot: only the Athena path needs it (the facts writer's package has none)

        started = self.athena.start_query_execution(QueryString=to_athena(sql), WorkGroup=self.workgroup,
                                                    QueryExecutionContext={"Database": self.database})
        self._wait(started["QueryExecutionId"])
        columns, rows = None, []
        for page in self.athena.get_paginator("get_query_results").paginate(
                QueryExecutionId=started["QueryExecutionId"]):
            columns = columns or page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
            rows.extend(page["ResultSet"]["Rows"])
        names = [column["Name"] for column in columns or []]
        kinds = [ATHENA_TYPES.get(column["Type"].lower(), str) for column in columns or []]
        if rows and [cell.get("VarCharValue") for cell in rows[0]["Data"]] == names:
            rows = rows[1:]  # a SELECT's first row repeats the column names
        return [{name: kind(cell["VarCharValue"]) if "VarCharValue" in cell else None
                 for name, kind, cell in zip(names, kinds, row["Data"], strict=True)} for row in rows]

    def _wait(self, query_id: str) -> dict:
        deadline, pause = time.monotonic() + self.timeout_s, 0.2
        while True:
            execution = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            state = execution["Status"]["State"]
            if state == "SUCCEEDED":
                return execution
            if state in ("FAILED", "CANCELLED"):
                raise QueryFailed(execution["Status"].get("StateChangeReason", state))
            if time.monotonic() > deadline:
                self.athena.stop_query_execution(QueryExecutionId=query_id)
                raise QueryFailed(f"the query took longer than {self.timeout_s:.0f} s")
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def engine(timeout_s: float = 25.0):
    if os.environ.get("OMS_ANALYTICS_ENGINE", "duckdb") == "athena":
        return AthenaEngine(timeout_s=timeout_s)
    return DuckDBEngine()
