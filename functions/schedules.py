"""Scheduled jobs."""
from __future__ import annotations


def sweep_backorders(event) -> int:
    """A safety net for the event path: offer current stock to every waiting order, first
    come first served (an InventoryAdjusted event that went to the DLQ is not lost forever)."""
    from oms.bootstrap import context
    from oms.services.orders import retry_backorders

    return retry_backorders(context())


def sweep_case_slas(event) -> int:
    """Escalate the cases whose service levels were missed (every minute in AWS; every
    OMS_SLA_SWEEP_SECONDS locally)."""
    from oms.bootstrap import context
    from oms.services.cases import sweep

    return sweep(context())


def reconcile_reservations(event) -> dict:
    """Daily: every stock item's reserved count equals what orders hold there."""
    from oms.bootstrap import context
    from oms.services.inventory import repair_reservations

    return repair_reservations(context())


def check_replenishment(event) -> list:
    """Daily: ReplenishmentNeeded for each SKU that fell to its reorder point."""
    from oms.bootstrap import context
    from oms.services.replenishment import check

    return check(context())


def sweep_reservations(event) -> int:
    """Every minute (OMS_RESERVATION_SWEEP_SECONDS locally): stock held too long for a payment goes back."""
    from oms.bootstrap import context
    from oms.services.orders import expire_reservations

    return expire_reservations(context())
