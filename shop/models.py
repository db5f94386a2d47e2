"""Imports every model, so the mapper and Alembic see the whole schema."""

from shop.accounts.models import User, UserRole
from shop.audit.models import AuditEntry
from shop.catalog.models import Category, Product, ProductImage, StockMovement, Variant
from shop.confirmations import UsedConfirmation
from shop.content.models import Page
from shop.identity.models import SigningKey
from shop.jobs.models import Job, JobFailureCount
from shop.orders.models import (
    GatewayEvent,
    LineAllocation,
    Order,
    OrderLine,
    Payment,
    Refund,
    RefundLine,
    Reservation,
)
from shop.orders.notes import OrderNote
from shop.page_cache.version import StorefrontVersion
from shop.passports.models import Credential, StatusList
from shop.provenance.models import Batch, BatchMaker, Trainee, VettingEvent, Workshop
from shop.training.models import DevelopmentGoal, LedgerAccount, Transfer, Withdrawal
from shop.transparency.models import LogCheckpoint, LogHead, LogLeaf, LogNode

__all__ = [
    "AuditEntry",
    "Batch",
    "BatchMaker",
    "Category",
    "Credential",
    "DevelopmentGoal",
    "GatewayEvent",
    "Job",
    "JobFailureCount",
    "LedgerAccount",
    "LineAllocation",
    "LogCheckpoint",
    "LogHead",
    "LogLeaf",
    "LogNode",
    "Order",
    "OrderLine",
    "OrderNote",
    "Page",
    "Payment",
    "Product",
    "ProductImage",
    "Refund",
    "RefundLine",
    "Reservation",
    "SigningKey",
    "StatusList",
    "StockMovement",
    "StorefrontVersion",
    "Trainee",
    "Transfer",
    "UsedConfirmation",
    "User",
    "UserRole",
    "Variant",
    "VettingEvent",
    "Withdrawal",
    "Workshop",
]
