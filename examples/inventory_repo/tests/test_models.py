from inventory.models import Item


def test_subtotal() -> None:
    assert Item("pen", 1.5, 4).subtotal() == 6.0
    assert Item("pad", 2.0).subtotal() == 2.0
