from inventory.models import Item
from inventory.pricing import order_total, round_money


def test_round_money() -> None:
    assert round_money(1.005) == 1.01


def test_order_total_adds_tax() -> None:
    assert order_total([Item("pen", 2.5, 2), Item("pad", 5.0)]) == 12.0


def test_empty_order_costs_nothing() -> None:
    assert order_total([]) == 0.0
