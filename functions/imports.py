"""The imports queue: the imports bucket's ObjectCreated events (S3's own message shape, not
the bus's), one object at a time."""
from __future__ import annotations

import json
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from oms.observability.logs import logger


def handle_imports(event) -> dict:
    from oms.bootstrap import context
    from oms.services.reconciliation import import_object

    def handle_record(record) -> None:
        body = json.loads(record.body)
        for entry in body.get("Records", []):  # S3's test event on setup has none
            bucket, key = entry["s3"]["bucket"]["name"], unquote_plus(entry["s3"]["object"]["key"])
            result = import_object(context(), bucket, key)
            logger.info("import", extra={"key": key, "status": result.get("status")})

    return process_partial_response(event=event.to_dict(), record_handler=handle_record,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=event.context)
