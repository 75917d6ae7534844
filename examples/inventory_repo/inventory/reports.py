"""Text reports."""

from __future__ import annotations

from .models import CURRENCY, Item


def format_money(amount: float) -> str:
    """An amount with two decimals and the currency, e.g. ``12.50 EUR``."""
    return f"{amount:.2f} {CURRENCY}"


def item_line(item: Item) -> str:
    """One report line: the item's SKU, quantity and subtotal."""
    return f"{item.sku} x{item.quantity}: {format_money(item.subtotal())}"
