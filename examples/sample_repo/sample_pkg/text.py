"""Small text helpers."""

VOWELS = "aeiou"


def shout(text: str) -> str:
    """Upper-case the text and add an exclamation mark."""
    return text.upper() + "!"
