"""A tiny shop: items, prices and logins."""

from .models import TAX_RATE, Item
from .pricing import order_total

__all__ = ["TAX_RATE", "Item", "order_total"]
