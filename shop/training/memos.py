"""A transfer's memo: written once, in English, when the transfer is posted (the ledger is
append-only, and the public log's entries are made from it), and shown to staff in their
own language. Both directions live here, so a memo the store writes is always one it can
read back; a memo it cannot read (older wording) is shown as it was written."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from shop.training.models import WithdrawalPurpose

SALE_SHARE = "Sale share: "
CORRECTION = "Correction: "
PAID_TO = ": paid to "
SHARE_REVERSED = "Refund: share reversed"
BORNE_BY_THE_STORE = "Refund: already withdrawn for training, borne by the store"
SHARE_RESTORED = "Refund failed at the payment gateway: share restored"
LOSS_RESTORED = "Refund failed at the payment gateway: the store's loss restored"

_FIXED = {
    SHARE_REVERSED: _l("Refund: share reversed"),
    BORNE_BY_THE_STORE: _l("Refund: already withdrawn for training, borne by the store"),
    SHARE_RESTORED: _l("Refund failed at the payment gateway: share restored"),
    LOSS_RESTORED: _l("Refund failed at the payment gateway: the store's loss restored"),
}


def sale_share(product_name: str) -> str:
    return f"{SALE_SHARE}{product_name}"


def correction(reason: str) -> str:
    return f"{CORRECTION}{reason}"


def withdrawal(purpose: WithdrawalPurpose, payee: str) -> str:
    return f"{purpose.label}{PAID_TO}{payee}"


def shown(memo: str) -> str:
    """The memo in the reader's language (the product, reason or payee as typed)."""
    if memo in _FIXED:
        return str(_FIXED[memo])
    if memo.startswith(SALE_SHARE):
        return _("Sale share: %(product)s", product=memo.removeprefix(SALE_SHARE))
    if memo.startswith(CORRECTION):
        return _("Correction: %(reason)s", reason=memo.removeprefix(CORRECTION))
    for purpose in WithdrawalPurpose:
        if memo.startswith(purpose.label + PAID_TO):
            payee = memo.removeprefix(purpose.label + PAID_TO)
            return _("%(purpose)s: paid to %(payee)s", purpose=purpose.shown, payee=payee)
    return memo
