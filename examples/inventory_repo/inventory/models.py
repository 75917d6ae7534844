"""The inventory's data."""

from __future__ import annotations

from dataclasses import dataclass

TAX_RATE = 0.2
"""VAT added to every order."""

CURRENCY = "EUR"
"""The currency of every price."""


@dataclass(frozen=True)
class Item:
    """One line of an order: a product, its unit price and how many of it."""

    sku: str
    price: float
    quantity: int = 1

    def subtotal(self) -> float:
        """Unit price times quantity."""
        return self.price * self.quantity
