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
