"""A small inventory: items and prices, users and logins, text reports."""

from .models import CURRENCY, TAX_RATE, Item

__all__ = ["CURRENCY", "TAX_RATE", "Item"]
