"""Sale shares: what a paid order credits to the makers of the units sold (what a refund
takes back is in reversals.py).

The order listeners run inside the transaction that paid or refunded the order, so
the shares commit with the payment or not at all. Flushes, never commits.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from shop.extensions import db
from shop.money import allocate
from shop.orders.signals import PaidOrder
from shop.provenance.models import BatchMaker
from shop.training import memos
from shop.training.accounts import SOURCE
from shop.training.ledger import PlannedTransfer, ensure_accounts, lock_accounts, pool_code, post
from shop.training.models import TransferKind


def split_share(share: int, allocations, makers_by_batch) -> list[tuple[int | None, int]]:
    """Split one line's share: over its batches by units, then over each batch's makers by
    weight. Returns (trainee id, amount) pairs; None stands for the workshop pool."""
    if share <= 0 or not allocations:
        return [(None, share)] if share > 0 else []
    parts: list[tuple[int | None, int]] = []
    for allocation, part in zip(
        allocations, allocate(share, [a.quantity for a in allocations]), strict=True
    ):
        makers = makers_by_batch.get(allocation.batch_id, []) if allocation.batch_id else []
        if not makers:
            parts.append((None, part))
            continue
        for (trainee_id, _weight), amount in zip(
            makers, allocate(part, [w for _t, w in makers]), strict=True
        ):
            parts.append((trainee_id, amount))
    return [(who, amount) for who, amount in parts if amount > 0]


def credit_sale_shares(event: PaidOrder) -> int:
    """Post every share of a paid order; returns the cents credited."""
    batch_ids = {a.batch_id for line in event.lines for a in line.allocations if a.batch_id}
    makers_by_batch: dict[int, list[tuple[int, int]]] = defaultdict(list)
    if batch_ids:
        rows = db.session.execute(
            select(BatchMaker.batch_id, BatchMaker.trainee_id, BatchMaker.weight)
            .where(BatchMaker.batch_id.in_(batch_ids))
            .order_by(BatchMaker.batch_id, BatchMaker.id)
        )
        for batch_id, trainee_id, weight in rows:
            makers_by_batch[batch_id].append((trainee_id, weight))

    splits = {
        line.line_id: split_share(line.share, line.allocations, makers_by_batch)
        for line in event.lines
    }
    trainee_ids = {who for parts in splits.values() for who, _ in parts if who is not None}
    workshop_ids = {line.workshop_id for line in event.lines}
    codes = {SOURCE} | {pool_code(w) for w in workshop_ids}
    if not any(splits.values()):
        return 0
    accounts = lock_accounts(codes=codes, trainee_ids=trainee_ids)
    if len(accounts) < len(codes) + len(trainee_ids):
        ensure_accounts(trainee_ids, workshop_ids)  # only for owners made outside the ORM
        accounts = lock_accounts(codes=codes, trainee_ids=trainee_ids)
    by_code = {a.code: a.id for a in accounts.values()}
    by_trainee = {a.trainee_id: a.id for a in accounts.values() if a.trainee_id}

    transfers = []
    for line in event.lines:
        per_account: dict[int, int] = defaultdict(int)
        for who, amount in splits[line.line_id]:
            account = by_trainee[who] if who is not None else by_code[pool_code(line.workshop_id)]
            per_account[account] += amount
        for account_id, amount in sorted(per_account.items()):
            transfers.append(
                PlannedTransfer(
                    debit=by_code[SOURCE],
                    credit=account_id,
                    amount=amount,
                    kind=TransferKind.SALE_SHARE,
                    idempotency_key=f"sale:{line.line_id}:{account_id}",
                    cause_type="order_line",
                    cause_id=line.line_id,
                    memo=memos.sale_share(line.product_name),
                    subject_account_id=account_id,
                )
            )
    post(transfers, accounts)
    return sum(t.amount for t in transfers)
