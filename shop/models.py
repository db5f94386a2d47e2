"""Imports every model, so the mapper and Alembic see the whole schema."""

from shop.catalog.models import Category, Product, ProductImage, StockMovement, Variant
from shop.provenance.models import Batch, BatchMaker, Trainee, VettingEvent, Workshop

__all__ = [
    "Batch",
    "BatchMaker",
    "Category",
    "Product",
    "ProductImage",
    "StockMovement",
    "Trainee",
    "Variant",
    "VettingEvent",
    "Workshop",
]
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

__all__ += [
    "GatewayEvent",
    "LineAllocation",
    "Order",
    "OrderLine",
    "Payment",
    "Refund",
    "RefundLine",
    "Reservation",
]
