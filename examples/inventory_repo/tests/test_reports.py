from inventory.models import Item
from inventory.reports import format_money, inventory_value, item_line


def test_format_money() -> None:
    assert format_money(3) == "3.00 EUR"


def test_item_line() -> None:
    assert item_line(Item("pen", 1.5, 2)) == "pen x2: 3.00 EUR"


def test_inventory_value() -> None:
    assert inventory_value([Item("pen", 1.5, 2), Item("pad", 0.333, 3)]) == "4.00 EUR"
    assert inventory_value([]) == "0.00 EUR"
