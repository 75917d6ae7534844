"""The shop's data."""

from __future__ import annotations

from dataclasses import dataclass

TAX_RATE = 0.25
"""Tax added to every order."""


@dataclass(frozen=True)
class Item:
    """One line of an order."""

    name: str
    price: float
    quantity: int = 1

    def subtotal(self) -> float:
        """Price times quantity."""
        return self.price * self.quantity
