"""Dead letters for operators: what each dead-letter queue holds, and its redrive once the
cause is fixed. Behind the ops bearer token."""
from __future__ import annotations

from chalice import Blueprint

from .http import ANY_BODY, ApiError, api_errors, documented, json_response
from .ops import ops_token_authorizer

dead_letters = Blueprint(__name__)


def _queues():
    from functions.outbox import history_record  # the outbox publisher's reading of a stream image
    from oms.adapters.dead_letters import SqsDeadLetterQueues

    return SqsDeadLetterQueues.from_environment(history=history_record)


def _queue_view(queue) -> dict:
    return {"queue": queue.name, "dlq": queue.dlq, "source": queue.source}


@dead_letters.route("/ops/dead-letters", methods=["GET"], content_types=ANY_BODY, authorizer=ops_token_authorizer)
@documented()
@api_errors
def list_dead_letters():
    from oms.services.dead_letters import dead_letter_report

    return json_response(200, {"dead_letters": [
        {**_queue_view(queue), "depth": queue.depth, "in_flight": queue.in_flight,
         "oldest": None if oldest is None else {"event_type": oldest.event_type, "order_id": oldest.order_id,
                                                "event_id": oldest.event_id, "sent_at": oldest.sent_at}}
        for queue, oldest in dead_letter_report(_queues())]})


@dead_letters.route("/ops/dead-letters/{queue}/redrive", methods=["POST"], content_types=ANY_BODY,
                    authorizer=ops_token_authorizer)
@documented(ok=(200, 202), errors=(404, 409))
@api_errors
def redrive(queue: str):
    """202 with SQS's move task when it runs on its own (AWS); 200 with what was moved when the
    messages were moved here (locally, and always for the outbox)."""
    from oms.services.dead_letters import RedriveInProgress, UnknownDeadLetterQueue, redrive_dead_letters

    try:
        result = redrive_dead_letters(_queues(), queue)
    except UnknownDeadLetterQueue:
        raise ApiError(404, "not_found", f"no dead-letter queue {queue[:64]}") from None
    except RedriveInProgress:
        raise ApiError(409, "redrive_in_progress", f"the {queue} dead-letter queue is being redriven already") from None
    body = {**_queue_view(result.queue), "task_handle": result.task_handle, "moved": result.moved,
            "remaining": result.remaining}
    if result.queue.from_stream:
        body.update(events_published=result.events_published, left=result.left)
    return json_response(202 if result.task_handle else 200, body)
