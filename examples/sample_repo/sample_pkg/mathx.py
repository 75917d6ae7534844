"""Small numeric helpers."""


def clamp(value: float, low: float, high: float) -> float:
    """Limit ``value`` to the range ``[low, high]``."""
    return max(low, min(high, value))
