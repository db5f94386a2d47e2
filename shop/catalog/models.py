"""Products, their variants and images, categories, and stock movements."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, query_expression, relationship

from shop.database import enum_column
from shop.extensions import db
from shop.timeutil import utcnow

if TYPE_CHECKING:
    from shop.provenance.models import Batch, Workshop

DEFAULT_IMPACT_SHARE_BPS = 1000


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class StockMovementKind(enum.StrEnum):
    """What moved. `quantity` is signed by its effect on what buyers can take:
    batch and adjustment change the units on hand; reservation (-) and release (+)
    change the units held; a sale takes held units off the shelf (on hand and held
    both drop, by -quantity; what buyers can take does not change)."""

    BATCH = "batch"  # a production batch was recorded
    ADJUSTMENT = "adjustment"  # a count on the shelf corrected, always with a reason
    SALE = "sale"  # held units left with a paid order
    RESERVATION = "reservation"  # units held while a buyer pays
    RELEASE = "release"  # a hold given back (expired, cancelled, replaced)


class Category(db.Model):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)


class Product(db.Model):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint(
            "impact_share_bps >= 0 AND impact_share_bps <= 10000", name="impact_share_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    story: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), index=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshops.id"), index=True)
    status: Mapped[ProductStatus] = mapped_column(
        enum_column(ProductStatus, "product_status"), default=ProductStatus.DRAFT, index=True
    )
    impact_share_bps: Mapped[int] = mapped_column(Integer, default=DEFAULT_IMPACT_SHARE_BPS)
    featured: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    category: Mapped[Category | None] = relationship()
    workshop: Mapped[Workshop] = relationship(back_populates="products")
    variants: Mapped[list[Variant]] = relationship(
        back_populates="product", order_by="Variant.position, Variant.id"
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", order_by="ProductImage.position, ProductImage.id"
    )


# An order line keeps the options as the buyer read them (orders.OrderLine.options_label).
OPTIONS_LABEL_MAX = 200


def options_label(options: dict) -> str:
    """The options as buyers read them: "size: M, colour: red"."""
    return ", ".join(f"{key}: {value}" for key, value in options.items())


class Variant(db.Model):
    __tablename__ = "variants"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        # Stored as GS1 writes it in a Digital Link: 14 digits (shorter GTINs zero-padded),
        # checked by shop.catalog.admin_services.gtin_problem before it gets here.
        CheckConstraint("length(gtin) = 14", name="gtin_fourteen_digits"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    price: Mapped[int] = mapped_column(Integer)  # minor units of `currency`
    currency: Mapped[str] = mapped_column(String(3))
    # Units on the shelf, and how many of them are held for orders waiting for payment.
    # Only shop.catalog.services changes them (conditional UPDATEs, one movement each).
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The GS1 Global Trade Item Number, when the product has one: unique, 14 digits.
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    # Units held for unpaid orders whose hold ran out, where a query asks for them
    # (shop.catalog.services.with_lapsed_holds); None where it does not.
    lapsed_held: Mapped[int | None] = query_expression()

    product: Mapped[Product] = relationship(back_populates="variants")
    batches: Mapped[list[Batch]] = relationship(
        back_populates="variant", order_by="Batch.produced_month, Batch.id"
    )

    @hybrid_property
    def available(self) -> int:
        """Units a buyer can still take: on the shelf and not held. The one place
        this is computed, in Python and (below) in SQL."""
        return (self.on_hand or 0) - (self.reserved or 0)

    @available.inplace.expression
    @classmethod
    def _available_expression(cls):
        return cls.on_hand - cls.reserved

    @property
    def buyable(self) -> int:
        """What a buyer is shown and may put in a cart: the available units, and those
        held by holds that ran out (the next checkout or cart change releases them)."""
        return self.available + (self.lapsed_held or 0)

    @hybrid_property
    def stock(self) -> int:
        """The old name of `available`, kept for readers (pages, reports, queries)."""
        return self.available

    @stock.inplace.setter
    def _stock_setter(self, value: int) -> None:
        # Stock changes only through stock movements. `Variant(stock=0)` for a new
        # variant is the one assignment older code makes, and it changes nothing.
        if value != self.available:
            raise AttributeError("stock changes only through stock movements")

    @stock.inplace.expression
    @classmethod
    def _stock_expression(cls):
        return cls.available

    @property
    def options_label(self) -> str:
        return options_label(self.options or {})


class ProductImage(db.Model):
    __tablename__ = "product_images"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    # The media store's key for the original: the store made it from the content's hash
    # (never the uploader's name), so one picture is one row.
    filename: Mapped[str] = mapped_column(String(200), unique=True)
    alt_text: Mapped[str] = mapped_column(String(300))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)
    # "320,640,1280": the widths whose WebP and JPEG copies exist. NULL until they are
    # made (after the upload is committed); pages show the original meanwhile.
    derivative_widths: Mapped[str | None] = mapped_column(String(60), nullable=True)

    product: Mapped[Product] = relationship(back_populates="images")


class StockMovement(db.Model):
    """One change of a variant's stock. Rows are only ever added."""

    __tablename__ = "stock_movements"
    __table_args__ = (CheckConstraint("quantity <> 0", name="quantity_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(ForeignKey("variants.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)  # signed: + into stock, - out of it
    kind: Mapped[StockMovementKind] = mapped_column(
        enum_column(StockMovementKind, "stock_movement_kind")
    )
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    stock_after: Mapped[int] = mapped_column(Integer)  # units on hand after the movement
    # Units held after it; NULL on rows from before on-hand and held were kept apart.
    reserved_after: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    variant: Mapped[Variant] = relationship()
