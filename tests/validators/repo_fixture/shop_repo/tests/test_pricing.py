from shop import Item, order_total


def test_total_with_tax() -> None:
    assert order_total([Item("pen", 2.0, 3), Item("pad", 4.0)]) == 12.5


def test_empty_order() -> None:
    assert order_total([]) == 0.0
