"""Pick lists and packing at a location.

A pick list is its own document (`PICKLIST#<id>`): the fulfilment orders on it, and its lines by
SKU in bin order. Making one takes fulfilment orders waiting to be picked there (oldest order
first, from the location's pick queue), puts each on the list in its order's own transaction
(one that is no longer waiting is skipped and leaves the queue), then writes the list.

Confirming it records the picks on the list first, then applies them to each order: short units
leave the location's stock and the order sources them again elsewhere or backorders them. Every
step is safe to repeat, so a confirmation cut short is finished by sending it again."""
from __future__ import annotations

from oms.domain.events import DomainEvent
from oms.domain.order import Order, OrderRuleViolation

from .context import Context
from .orders import UnknownOrder, allocate_order, update_order
from .ports import Document, OrderCommit, StockCommit, StockMove

PICK_LIST = "PICKLIST"


def order_of(fulfillment_order_id: str) -> str:
    return fulfillment_order_id.rsplit("-F", 1)[0]


def create_pick_list(ctx: Context, location_id: str, max_orders: int, chosen: list[str] | None) -> dict:
    from .inventory import UnknownLocation

    if location_id not in {loc.location_id for loc in ctx.inventory.locations()}:
        raise UnknownLocation(location_id)
    pick_list_id = "pl" + ctx.new_order_id()[1:]
    taken: list[tuple[str, Order]] = []
    for fo_id, order_id in _candidates(ctx, location_id, max_orders, chosen):
        if len(taken) >= max_orders:
            break
        order = _claim(ctx, fo_id, order_id, location_id, pick_list_id, named=bool(chosen))
        if order is not None:
            taken.append((fo_id, order))
    if not taken:
        raise OrderRuleViolation("nothing_to_pick", f"no fulfilment order waits to be picked at {location_id}")
    pick_list = _pick_list(ctx, pick_list_id, location_id, taken)
    ctx.inventory.commit_stock(StockCommit(documents=[Document(PICK_LIST, pick_list_id, pick_list, [
        DomainEvent("PickListCreated", {
            "pick_list_id": pick_list_id, "location_id": location_id,
            "fulfillment_order_ids": [fo_id for fo_id, _ in taken],
            "lines": [{"sku": line["sku"], "bin": line["bin"], "quantity": line["quantity"]}
                      for line in pick_list["lines"]]})])]))
    return pick_list


QUEUE_PAGES = 5


def _candidates(ctx: Context, location_id: str, max_orders: int, chosen: list[str] | None):
    """The named fulfilment orders, or the queue's oldest, page by page: orders on hold stay in the
    queue (they are picked once released), so a few pages are read past them."""
    if chosen:
        yield from ((fo_id, order_of(fo_id)) for fo_id in dict.fromkeys(chosen))
        return
    after = None
    for _ in range(QUEUE_PAGES):
        page = ctx.inventory.pick_queue(location_id, max(25, max_orders * 2), after)
        yield from ((fo_id, order_id) for fo_id, order_id, _ in page)
        if not page:
            return
        after = page[-1][2]


def _claim(ctx: Context, fo_id: str, order_id: str, location_id: str, pick_list_id: str,
           named: bool = False) -> Order | None:
    """The order with the fulfilment order on this list, or None (not waiting here any more). A
    fulfilment order named by the caller that went to `picking` for a list never written (its
    request failed half-way) is taken again."""
    claimed: dict = {}
    stranded = named and _stranded(ctx, fo_id, order_id)

    def step(order: Order) -> OrderCommit | None:
        try:
            fo = order.fulfillment_order(fo_id)
        except OrderRuleViolation:
            return None
        if fo.location_id != location_id:
            return None
        if stranded and fo.status == "picking" and fo.pick_list_id == stranded:
            fo.status = "created"
        if order.start_picking(fo_id, pick_list_id):
            claimed["order"] = order
            return OrderCommit(order, [], state_only=True, picked_up=[fo_id])
        if fo.status != "created":  # shipped by hand, cancelled...: a stale entry of the queue
            ctx.inventory.drop_from_pick_queue(location_id, order.received_at, fo_id)
        return None
    try:
        update_order(ctx, order_id, step)
    except UnknownOrder:
        return None
    return claimed.get("order")


def _stranded(ctx: Context, fo_id: str, order_id: str) -> str | None:
    """The id of the pick list a `picking` fulfilment order points at when that list does not exist."""
    order = ctx.store.load(order_id)
    if order is None:
        return None
    fo = next((f for f in order.fulfillment_orders if f.fulfillment_order_id == fo_id), None)
    if fo is None or fo.status != "picking" or not fo.pick_list_id:
        return None
    return fo.pick_list_id if ctx.inventory.load_document(PICK_LIST, fo.pick_list_id) is None else None


def _pick_list(ctx: Context, pick_list_id: str, location_id: str, taken: list[tuple[str, Order]]) -> dict:
    by_sku: dict[str, dict] = {}
    for fo_id, order in taken:
        for fl in order.fulfillment_order(fo_id).lines:
            units = fl["quantity"] - fl["shipped"]
            if units <= 0:
                continue
            line = by_sku.setdefault(fl["sku"], {"sku": fl["sku"], "quantity": 0, "fulfillment_orders": []})
            line["quantity"] += units
            mine = next((x for x in line["fulfillment_orders"] if x["fulfillment_order_id"] == fo_id), None)
            if mine is None:  # two lines of one SKU on one fulfilment order are picked as one
                line["fulfillment_orders"].append({"fulfillment_order_id": fo_id, "quantity": units})
            else:
                mine["quantity"] += units
    bins = ctx.inventory.bins(location_id, set(by_sku))
    lines = sorted(({**line, "bin": bins.get(sku)} for sku, line in by_sku.items()),
                   key=lambda line: (line["bin"] is None, line["bin"] or "", line["sku"]))  # no bin: last
    return {"pick_list_id": pick_list_id, "location_id": location_id, "status": "open",
            "created_at": ctx.clock.now(), "fulfillment_order_ids": [fo_id for fo_id, _ in taken],
            "lines": [{"sku": line["sku"], "bin": line["bin"], "quantity": line["quantity"],
                       "fulfillment_orders": line["fulfillment_orders"]} for line in lines]}


def view(pick_list: dict) -> dict:
    return {key: value for key, value in pick_list.items() if key not in ("history_length", "picks")}


def load_pick_list(ctx: Context, pick_list_id: str) -> tuple[dict, int]:
    found = ctx.inventory.load_document(PICK_LIST, pick_list_id)
    if found is None:
        raise OrderRuleViolation("not_found", f"no pick list {pick_list_id}")
    return found


def confirm_pick_list(ctx: Context, pick_list_id: str, picks: list[dict]) -> dict:
    """`picks`: [{"fulfillment_order_id", "sku", "quantity_picked"}], one per SKU of each
    fulfilment order on the list."""
    pick_list, version = load_pick_list(ctx, pick_list_id)
    if pick_list["status"] == "confirmed":
        return pick_list
    found = _checked(pick_list, picks)
    if pick_list["status"] == "confirming" and pick_list["picks"] != found:
        raise OrderRuleViolation("confirmation_differs", "this pick list is being confirmed with other picks")
    if pick_list["status"] == "open":
        pick_list = {**pick_list, "status": "confirming", "picks": found}
        ctx.inventory.commit_stock(StockCommit(documents=[Document(PICK_LIST, pick_list_id, pick_list,
                                                                   version=version)]))
    shorts = []
    for fo_id in pick_list["fulfillment_order_ids"]:
        short = _confirm(ctx, fo_id, pick_list_id, found.get(fo_id, {}))
        shorts += [{"fulfillment_order_id": fo_id, "sku": sku, "quantity": units} for sku, _, units in short]
    pick_list, version = load_pick_list(ctx, pick_list_id)
    if pick_list["status"] != "confirmed":
        pick_list = {**pick_list, "status": "confirmed", "confirmed_at": ctx.clock.now(), "short": shorts}
        ctx.inventory.commit_stock(StockCommit(documents=[Document(PICK_LIST, pick_list_id, pick_list,
                                                                   version=version)]))
    return pick_list


def _checked(pick_list: dict, picks: list[dict]) -> dict[str, dict[str, int]]:
    """{fulfillment order: {sku: picked}}: every SKU of every fulfilment order on the list, once,
    never more than it asked for."""
    wanted = {(fo["fulfillment_order_id"], line["sku"]): fo["quantity"]
              for line in pick_list["lines"] for fo in line["fulfillment_orders"]}
    found: dict[str, dict[str, int]] = {}
    problems = []
    for pick in picks:
        key = (pick["fulfillment_order_id"], pick["sku"])
        if key not in wanted:
            problems.append({"fulfillment_order_id": key[0], "sku": key[1], "problem": "not on this pick list"})
        elif key[1] in found.get(key[0], {}):
            problems.append({"fulfillment_order_id": key[0], "sku": key[1], "problem": "given twice"})
        elif pick["quantity_picked"] > wanted[key]:
            problems.append({"fulfillment_order_id": key[0], "sku": key[1],
                             "problem": f"{pick['quantity_picked']} picked, {wanted[key]} asked for"})
        else:
            found.setdefault(key[0], {})[key[1]] = pick["quantity_picked"]
    problems += [{"fulfillment_order_id": fo_id, "sku": sku, "problem": "missing"}
                 for fo_id, sku in wanted if sku not in found.get(fo_id, {})]
    if problems:
        raise OrderRuleViolation("invalid_picks", "the picks do not match the pick list", problems)
    return found


def _confirm(ctx: Context, fo_id: str, pick_list_id: str, picked: dict[str, int]) -> list[tuple[str, str, int]]:
    result: dict = {"short": []}

    order = ctx.store.load(order_of(fo_id))
    fo = next((f for f in order.fulfillment_orders if f.fulfillment_order_id == fo_id), None) if order else None
    counted = {fl["sku"]: ctx.inventory.stock_level(fl["sku"], fo.location_id).version
               for fl in fo.lines} if fo and fo.status == "picking" else {}

    def step(order: Order) -> OrderCommit:
        events, short = order.confirm_picks(fo_id, pick_list_id, picked, counted)
        result["short"] = short
        return OrderCommit(order, events, backorder=None,
                           stock_moves=[StockMove(sku, location, ship=units, reason="short_pick")
                                        for sku, location, units in short],
                           demand=[(sku, location, -units) for sku, location, units in short])  # counted where it ships
    update_order(ctx, order_of(fo_id), step)
    allocate_order(ctx, order_of(fo_id))  # short units elsewhere, or backordered (nothing to do: no write)
    return result["short"]


def pack(ctx: Context, fulfillment_order_id: str, packages: list[dict]) -> Order:
    result: dict = {}

    def step(order: Order) -> OrderCommit:
        events = order.pack(fulfillment_order_id, packages)
        result["order"] = order
        return OrderCommit(order, events)
    try:
        update_order(ctx, order_of(fulfillment_order_id), step)
    except UnknownOrder:
        raise OrderRuleViolation("not_found", f"no fulfillment order {fulfillment_order_id}") from None
    return result["order"]


def reject(ctx: Context, fulfillment_order_id: str, reason: str, lines: dict[str, int] | None,
           key: str | None = None) -> Order:
    """A location cannot fulfil (a store out of stock, a damaged unit): the units leave its
    fulfilment order and the order sources them again anywhere but there, or backorders them.
    Their reservation is given back; for `out_of_stock` they also leave its on hand (the units are
    not there), logged as `rejected_out_of_stock`."""
    result: dict = {}

    def step(order: Order) -> OrderCommit:
        events, given = order.reject(fulfillment_order_id, reason, lines, key)
        result["order"] = order
        if reason == "out_of_stock":
            moves = [StockMove(sku, location, ship=units, reason="rejected_out_of_stock")
                     for sku, location, units in given]
        else:
            moves = [StockMove(sku, location, release=units) for sku, location, units in given]
        return OrderCommit(order, events, stock_moves=moves,
                           demand=[(sku, location, -units) for sku, location, units in given])
    try:
        update_order(ctx, order_of(fulfillment_order_id), step)
    except UnknownOrder:
        raise OrderRuleViolation("not_found", f"no fulfillment order {fulfillment_order_id}") from None
    allocate_order(ctx, order_of(fulfillment_order_id))
    return ctx.store.load(order_of(fulfillment_order_id))
