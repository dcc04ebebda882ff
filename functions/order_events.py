"""SQS consumers of the order pipeline. Each queue receives the bus's events for one
consumer; a record is routed by its event type to one service call. Records are processed
with Powertools Batch so that one failing message is retried alone."""
from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from oms.observability.logs import bind_event, logger

Route = Callable[[dict], object]


def _detail(record) -> dict:
    envelope = json.loads(record.body)
    return envelope["detail"]


def consume(event, routes: dict[str, Route], with_record: bool = False) -> dict:
    """Run each record through its route; report the failures for redelivery."""
    def handle_record(record) -> None:
        detail = _detail(record)
        bind_event(detail)
        route = routes.get(detail["event_type"])
        if route is None:
            logger.warning("event type not handled by this queue")
            return
        try:
            route(detail, record) if with_record else route(detail)
        except Exception:
            logger.exception("event failed; it comes back")  # through the masking formatter
            raise
        logger.info("event handled")

    # A batch that fails whole is reported record by record too: Powertools would raise an error
    # whose text (every record's exception) the Lambda runtime prints past our formatter.
    return process_partial_response(event=event.to_dict(), record_handler=handle_record, context=event.context,
                                    processor=BatchProcessor(event_type=EventType.SQS,
                                                             raise_on_entire_batch_failure=False))


@cache
def _sqs():
    import boto3

    return boto3.client("sqs")


@cache
def _queue_url(queue_arn: str) -> str:
    _, _, _, _, account, name = queue_arn.split(":", 5)
    return _sqs().get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]


def retry_later(record, seconds: int) -> None:
    """The record comes back after `seconds`, not after the queue's visibility timeout (so a
    wait that is known to be long does not spend the receives its redrive policy allows)."""
    _sqs().change_message_visibility(QueueUrl=_queue_url(record.event_source_arn),
                                     ReceiptHandle=record.receipt_handle, VisibilityTimeout=seconds)


def _ctx():
    from oms.bootstrap import context

    return context()


def validate(detail: dict) -> None:
    from oms.services.orders import validate_order

    validate_order(_ctx(), detail["aggregate_id"])


def allocate(detail: dict) -> None:
    from oms.services.orders import allocate_order

    allocate_order(_ctx(), detail["aggregate_id"])


def offer_new_stock(detail: dict) -> None:
    """Units came (or safety stock fell): waiting orders get them. A count that found fewer, or
    units that left, offer nothing."""
    from oms.services.orders import retry_backorders

    data = detail["data"]
    grew = data["on_hand"] > data["previous_on_hand"] or data["safety_stock"] < data["previous_safety_stock"]
    if data["available"] > 0 and grew:
        retry_backorders(_ctx(), data["sku"])


def offer_released_stock(detail: dict) -> None:
    """A cancellation gave reservations back: waiting orders get them now, not at the next sweep."""
    from oms.services.orders import retry_backorders

    for sku in sorted({released["sku"] for released in detail["data"]["released"]}):
        retry_backorders(_ctx(), sku)


def offer_expired_stock(detail: dict) -> None:
    """An unpaid order's stock went back: waiting orders get it now."""
    from oms.services.orders import retry_backorders

    for sku in sorted({released["sku"] for released in detail["data"]["released"]}):
        retry_backorders(_ctx(), sku)


def take_payment(detail: dict) -> None:
    from oms.services.payments import take_payment as pay

    pay(_ctx(), detail["aggregate_id"])


def capture(detail: dict) -> None:
    from oms.services.payments import capture_shipment

    capture_shipment(_ctx(), detail["aggregate_id"], detail["data"]["shipment_id"])


def create_fulfillment_orders(detail: dict) -> None:
    from oms.services.orders import create_fulfillment_orders as create

    create(_ctx(), detail["aggregate_id"])


def handle_validation(event) -> dict:
    return consume(event, {"OrderReceived": validate})


def handle_allocation(event) -> dict:
    return consume(event, {"OrderValidated": allocate, "InventoryAdjusted": offer_new_stock,
                           "OrderLinesCancelled": offer_released_stock,
                           "HoldReleased": allocate,  # a no-op unless units wait to be sourced again
                           # units a location could not send (also sourced again at once: this is the net)
                           "ShortPicked": allocate, "FulfillmentOrderRejected": allocate,
                           "InventoryReleased": offer_expired_stock})


def resume_payment(detail: dict) -> None:
    from oms.services.payments import resume_payment as resume

    resume(_ctx(), detail["aggregate_id"])


def settle(detail: dict) -> None:
    from oms.services.payments import settle_after_cancellation

    settle_after_cancellation(_ctx(), detail["aggregate_id"])


def send_refund(detail: dict) -> None:
    """Finish a refund the ops API could not (the processor was down): raises while it is not
    finished, so the message comes back."""
    from oms.services.refunds import send_refund as send

    send(_ctx(), detail["aggregate_id"], detail["data"]["refund_id"])


def handle_payments(event) -> dict:
    # HoldReleased arrives here only for payment and capture holds, RefundRequested only for
    # refunds a processor makes (the rules filter on hold_type and processor).
    return consume(event, {"OrderAllocated": take_payment, "HoldReleased": resume_payment, "ShipmentCreated": capture,
                           "OrderLinesCancelled": settle, "RefundRequested": send_refund})


def void_labels(detail: dict) -> None:
    """Labels bought for parcels a cancellation stopped are voided (their postage refund asked)."""
    from oms.services.labels import void_labels as void

    void(_ctx(), detail["aggregate_id"])


def handle_fulfillment(event) -> dict:
    return consume(event, {"PaymentAuthorized": create_fulfillment_orders,
                           "PaymentRecorded": create_fulfillment_orders,
                           "OrderLinesCancelled": void_labels, "FulfillmentOrderRejected": void_labels,
                           "ReservationWithdrawn": void_labels, "LabelPurchased": void_labels})


def order_learns_of_return(detail: dict) -> None:
    from oms.services.returns import order_learns

    order_learns(_ctx(), detail)


def handle_returns(event) -> dict:
    """The order learns what became of its returns: units back (refunded), claims released."""
    return consume(event, {name: order_learns_of_return for name in (
        "ReturnApproved", "ReturnDeclined", "ReturnCancelled", "ReturnInTransit", "ReturnReceived", "ReturnClosed")})
