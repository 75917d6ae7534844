"""Values as plain data: what a sandbox child returns so that the host can compare it.

A test such as ``assert f(1) == 2`` is judged on the host: the expected side never enters the
sandbox, the child evaluates ``f(1)`` and sends :func:`encode` of the result, and the host
rebuilds it with :func:`decode` and compares. Only data crosses: the rebuilt value has the
exact built-in types it had in the child, so the comparison runs the interpreter's own ``==``
on built-in values, never a method of the program under test.

What is data (rebuilt with its own type): ``None``, ``bool``, ``int``, ``float``, ``complex``,
``str``, ``bytes``, ``bytearray``, ``list``, ``tuple``, ``dict``, ``set``, ``frozenset``,
``range``, ``...``, ``OrderedDict``, ``defaultdict`` (without its factory), ``Counter``,
``deque``, ``Fraction``, ``Decimal``, and the ``keys()``/``items()`` views of a dict. A subclass
of ``int``, ``float``, ``str``, ``bytes``, ``list``, ``tuple``, ``dict``, ``set`` or
``frozenset`` (a ``namedtuple``, ``class Tag(str)``) is data of its base type when it keeps the
base's ``__eq__``, ``__ne__`` and ``__hash__`` and has no metaclass of its own: its equality is
then the base type's, element by element.

Anything else is *opaque*: the host learns its type name, whether the type defines its own
``__eq__``, and its truth value when that does not depend on the object (no ``__bool__`` or
``__len__``: always true). :func:`decode` gives an :class:`Opaque` placeholder, equal only to
itself. Values past the size caps (or nested too deep, or cyclic) are *uncheckable*.

The encoder never calls a method of the program's classes (it reads built-in storage through
the base types' own functions), so a value cannot run code, or change, while it is encoded.
Standard library only: this module runs inside the sandbox.
"""

from __future__ import annotations

import collections
import decimal
import fractions
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "MAX_NODES",
    "Decoded",
    "Opaque",
    "custom_equality",
    "decode",
    "encode",
    "truth_of",
    "well_formed",
]

MAX_NODES = 20_000
"""Values (container elements included) encoded at most."""
MAX_CHARS = 200_000
"""Characters of text (``str``, bytes in hex, big numbers) encoded at most."""
MAX_DEPTH = 64
"""Nesting depth encoded at most (a cycle hits it too)."""

_type = type
_isinstance = isinstance
_len = len
_repr = repr
_list = list
_mro_of = type.__dict__["__mro__"].__get__
_float_repr = float.__repr__
_int_of = int.__int__
_float_of = float.__float__
_str_of = str.__str__
_bytes_hex = bytes.hex
_list_iter = list.__iter__
_tuple_iter = tuple.__iter__
_set_iter = set.__iter__
_frozenset_iter = frozenset.__iter__
_dict_items = dict.items

_KEYS: type[Any] = type({}.keys())
_ITEMS: type[Any] = type({}.items())
_SMALL_INT = 1 << 53

_SUBCLASSABLE: tuple[type, ...] = (int, float, str, bytes, list, tuple, dict, set, frozenset)
"""Base types whose well-behaved subclasses are encoded as their base (never ``bool``)."""


class Uncheckable(Exception):
    """The value is too big, too deep or cyclic to encode."""


class Opaque:
    """The host-side stand-in of a value that is not data (see the module docstring).

    It equals only itself (whatever the original's ``__eq__`` did) and hashes by identity.
    """

    __slots__ = ("custom_eq", "truth", "type_name")

    def __init__(self, type_name: str, custom_eq: bool, truth: bool | None) -> None:
        self.type_name = type_name
        """The original's type (qualified name)."""
        self.custom_eq = custom_eq
        """Whether its type defines ``__eq__`` (or ``__ne__``) itself."""
        self.truth = truth
        """Its truth value when fixed by its type (no ``__bool__``/``__len__``), else ``None``."""

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


class _Budget:
    __slots__ = ("chars", "nodes")

    def __init__(self) -> None:
        self.nodes = MAX_NODES
        self.chars = MAX_CHARS

    def spend(self, nodes: int, chars: int = 0) -> None:
        self.nodes -= nodes
        self.chars -= chars
        if self.nodes < 0 or self.chars < 0:
            raise Uncheckable(f"more than {MAX_NODES} values or {MAX_CHARS} characters")


def _defines(kind: type, names: tuple[str, ...], stop: type | None = None) -> bool:
    """Whether a class in ``kind``'s MRO before ``stop`` (or ``object``) defines one of
    ``names`` (read from the classes' own dicts: no lookup the class could intercept)."""
    for klass in _mro_of(kind):
        if klass is stop or klass is object:
            return False
        namespace = type.__dict__["__dict__"].__get__(klass)
        if any(name in namespace for name in names):
            return True
    return False


def _data_base(kind: type) -> type | None:
    """The built-in base whose equality a subclass ``kind`` keeps, or ``None``."""
    if _type(kind) is not type:
        return None
    for base in _SUBCLASSABLE:
        if base in _mro_of(kind):
            if _defines(kind, ("__eq__", "__ne__", "__hash__"), stop=base):
                return None
            return base
    return None


def _opaque(value: Any) -> list[Any]:
    kind = _type(value)
    try:
        name = str(type.__dict__["__qualname__"].__get__(kind))
    except Exception:
        name = "object"
    custom_eq = _defines(kind, ("__eq__", "__ne__"))
    fixed_truth = not _defines(kind, ("__bool__", "__len__"))
    return ["o", name[:200], custom_eq, True if fixed_truth else None]


def _int(value: int, budget: _Budget) -> list[Any]:
    if -_SMALL_INT < value < _SMALL_INT:
        return ["i", value]
    text = format(value, "x")  # hex: no limit on the digits of huge ints
    budget.spend(0, _len(text))
    return ["I", text]


def _str(value: str, budget: _Budget) -> list[Any]:
    budget.spend(0, _len(value))
    return ["s", value]


def _items(pairs: Any, depth: int, budget: _Budget) -> list[Any]:
    return [[_encode(k, depth, budget), _encode(v, depth, budget)] for k, v in pairs]


def _seq(values: Any, depth: int, budget: _Budget) -> list[Any]:
    return [_encode(v, depth, budget) for v in values]


def _encode_exact(value: Any, kind: type, depth: int, budget: _Budget) -> list[Any] | None:
    """The encoding of a value of an exact data type (``None`` when ``kind`` is not one)."""
    encoder = _EXACT.get(kind)
    if encoder is None:
        return None
    return encoder(value, depth, budget)


def _encode(value: Any, depth: int, budget: _Budget) -> list[Any]:
    if depth > MAX_DEPTH:
        raise Uncheckable(f"nested deeper than {MAX_DEPTH} levels (or cyclic)")
    budget.spend(1)
    kind = _type(value)
    found = _encode_exact(value, kind, depth + 1, budget)
    if found is not None:
        return found
    base = _data_base(kind)
    if base is None:
        return _opaque(value)
    return _encode_base(value, base, depth + 1, budget)


def _encode_base(value: Any, base: type, depth: int, budget: _Budget) -> list[Any]:
    """A subclass instance as its base type's data, read through the base's own functions."""
    if base is int:
        return _int(_int_of(value), budget)
    if base is float:
        return ["f", _float_repr(_float_of(value))]
    if base is str:
        return _str(_str_of(value), budget)
    if base is bytes:
        text = _bytes_hex(value)
        budget.spend(0, _len(text))
        return ["y", text]
    if base is list:
        return ["l", _seq(_list_iter(value), depth, budget)]
    if base is tuple:
        return ["t", _seq(_tuple_iter(value), depth, budget)]
    if base is dict:
        return ["d", _items(_dict_items(value), depth, budget)]
    if base is set:
        return ["S", _seq(_set_iter(value), depth, budget)]
    return ["F", _seq(_frozenset_iter(value), depth, budget)]


def _bytes_like(tag: str) -> Callable[[Any, int, _Budget], list[Any]]:
    def encode_bytes(value: Any, _depth: int, budget: _Budget) -> list[Any]:
        text = _bytes_hex(bytes(value))
        budget.spend(0, _len(text))
        return [tag, text]

    return encode_bytes


def _mapping(tag: str) -> Callable[[Any, int, _Budget], list[Any]]:
    def encode_mapping(value: Any, depth: int, budget: _Budget) -> list[Any]:
        return [tag, _items(_dict_items(value), depth, budget)]

    return encode_mapping


def _decimal(value: decimal.Decimal, _depth: int, budget: _Budget) -> list[Any]:
    text = str(value)
    budget.spend(0, _len(text))
    return ["D", text]


_EXACT: dict[type, Callable[[Any, int, _Budget], list[Any]]] = {
    type(None): lambda v, d, b: ["N"],
    type(...): lambda v, d, b: ["E"],
    bool: lambda v, d, b: ["b", v is True],
    int: lambda v, d, b: _int(v, b),
    float: lambda v, d, b: ["f", _float_repr(v)],
    complex: lambda v, d, b: ["c", _float_repr(v.real), _float_repr(v.imag)],
    str: lambda v, d, b: _str(v, b),
    bytes: _bytes_like("y"),
    bytearray: _bytes_like("Y"),
    list: lambda v, d, b: ["l", _seq(_list_iter(v), d, b)],
    tuple: lambda v, d, b: ["t", _seq(_tuple_iter(v), d, b)],
    set: lambda v, d, b: ["S", _seq(_set_iter(v), d, b)],
    frozenset: lambda v, d, b: ["F", _seq(_frozenset_iter(v), d, b)],
    dict: _mapping("d"),
    collections.OrderedDict: _mapping("od"),
    collections.defaultdict: _mapping("dd"),
    collections.Counter: _mapping("C"),
    collections.deque: lambda v, d, b: ["q", _seq(_list(v), d, b), v.maxlen],
    range: lambda v, d, b: ["r", _int(v.start, b), _int(v.stop, b), _int(v.step, b)],
    fractions.Fraction: lambda v, d, b: ["fr", _int(v.numerator, b), _int(v.denominator, b)],
    decimal.Decimal: _decimal,
    _KEYS: lambda v, d, b: ["dk", _seq(_list(v), d, b)],
    _ITEMS: lambda v, d, b: ["di", _items(_list(v), d, b)],
}


def encode(value: Any) -> list[Any]:
    """``value`` as JSON-ready data (see the module docstring); never raises.

    Returns:
        A tagged list: e.g. ``["i", 3]``, ``["l", [["s", "a"]]]``, ``["o", "Foo", true,
        null]`` for an opaque value, ``["u", "why"]`` for an uncheckable one.
    """
    try:
        return _encode(value, 0, _Budget())
    except Uncheckable as exc:
        return ["u", str(exc)]
    except RecursionError:
        return ["u", "nested too deep for the interpreter's recursion limit"]


# -- host side ---------------------------------------------------------------------------------
class Decoded:
    """A rebuilt value and what :func:`decode` saw on the way."""

    __slots__ = ("opaque", "uncheckable", "value")

    def __init__(self, value: Any, opaque: list[Opaque], uncheckable: str) -> None:
        self.value = value
        """The rebuilt value (built-in data and :class:`Opaque` placeholders)."""
        self.opaque = opaque
        """Every placeholder inside it, outermost first."""
        self.uncheckable = uncheckable
        """Why the value could not be encoded (empty when it was)."""


def _dec_int(data: list[Any]) -> int:
    tag, raw = data[0], data[1]
    if tag == "i" and _type(raw) is int:
        return int(raw)
    if tag == "I" and _type(raw) is str:
        return int(raw, 16)
    raise ValueError("not an encoded int")


def _check(condition: bool) -> None:
    if not condition:
        raise ValueError("malformed value")


def _dec(data: Any, depth: int, seen: list[Opaque]) -> Any:
    _check(_type(data) is list and _len(data) >= 1 and depth <= MAX_DEPTH + 2)
    tag = data[0]
    simple = _SIMPLE_DECODERS.get(tag)
    if simple is not None:
        return simple(data)
    if tag in ("l", "t", "S", "F", "dk"):
        _check(_len(data) == 2 and _type(data[1]) is list)
        items = [_dec(item, depth + 1, seen) for item in data[1]]
        if tag == "l":
            return items
        if tag == "t":
            return tuple(items)
        if tag == "S":
            return set(items)
        if tag == "F":
            return frozenset(items)
        return dict.fromkeys(items).keys()
    if tag in ("d", "od", "dd", "C", "di"):
        _check(_len(data) == 2 and _type(data[1]) is list)
        pairs = []
        for pair in data[1]:
            _check(_type(pair) is list and _len(pair) == 2)
            pairs.append((_dec(pair[0], depth + 1, seen), _dec(pair[1], depth + 1, seen)))
        made: dict[Any, Any] = _MAPPINGS[tag]()
        dict.update(made, pairs)  # (Counter.update would count the pairs)
        return made.items() if tag == "di" else made
    if tag == "q":
        _check(_len(data) == 3 and _type(data[1]) is list)
        maxlen = data[2]
        _check(maxlen is None or _type(maxlen) is int)
        return collections.deque([_dec(i, depth + 1, seen) for i in data[1]], maxlen)
    if tag == "o":
        _check(_len(data) == 4 and _type(data[1]) is str and _type(data[2]) is bool)
        _check(data[3] is None or _type(data[3]) is bool)
        placeholder = Opaque(data[1], data[2], data[3])
        seen.append(placeholder)
        return placeholder
    raise ValueError(f"unknown value tag {tag!r}")


def _dec_float(data: list[Any]) -> float:
    _check(_len(data) == 2 and _type(data[1]) is str)
    return float(data[1])


def _dec_complex(data: list[Any]) -> complex:
    _check(_len(data) == 3 and _type(data[1]) is str and _type(data[2]) is str)
    return complex(float(data[1]), float(data[2]))


def _dec_text(data: list[Any]) -> str:
    _check(_len(data) == 2 and _type(data[1]) is str)
    return str(data[1])


def _dec_range(data: list[Any]) -> range:
    _check(_len(data) == 4)
    return range(_dec_int(data[1]), _dec_int(data[2]), _dec_int(data[3]))


def _dec_fraction(data: list[Any]) -> fractions.Fraction:
    _check(_len(data) == 3)
    return fractions.Fraction(_dec_int(data[1]), _dec_int(data[2]))


_SIMPLE_DECODERS: dict[str, Callable[[list[Any]], Any]] = {
    "N": lambda d: None,
    "E": lambda d: ...,
    "b": lambda d: bool(d[1]) if _len(d) == 2 and _type(d[1]) is bool else _check(False),
    "i": _dec_int,
    "I": _dec_int,
    "f": _dec_float,
    "c": _dec_complex,
    "s": _dec_text,
    "y": lambda d: bytes.fromhex(_dec_text(d)),
    "Y": lambda d: bytearray.fromhex(_dec_text(d)),
    "r": _dec_range,
    "fr": _dec_fraction,
    "D": lambda d: decimal.Decimal(_dec_text(d)),
}

_MAPPINGS: dict[str, Callable[[], dict[Any, Any]]] = {
    "d": dict,
    "di": dict,
    "od": collections.OrderedDict,
    "dd": collections.defaultdict,
    "C": collections.Counter,
}


def decode(data: Any) -> Decoded:
    """Rebuild a value from :func:`encode`'s output (which came from an untrusted child).

    Raises:
        ValueError: ``data`` is not a well-formed encoding (e.g. an unhashable set element).
    """
    if _type(data) is list and _len(data) == 2 and data[0] == "u":
        return Decoded(None, [], str(data[1])[:200] or "uncheckable")
    seen: list[Opaque] = []
    try:
        value = _dec(data, 0, seen)
    except (TypeError, KeyError, IndexError, ArithmeticError, decimal.InvalidOperation) as exc:
        raise ValueError(f"malformed value: {type(exc).__name__}") from exc
    except RecursionError as exc:
        raise ValueError("malformed value: nested too deep") from exc
    return Decoded(value, seen, "")


def truth_of(decoded: Decoded) -> bool | None:
    """The truth value of a decoded value (``None``: it depends on an opaque object's own
    ``__bool__``/``__len__``, which only the child could call)."""
    value = decoded.value
    if _isinstance(value, Opaque):
        truth: bool | None = value.truth
        return truth
    return bool(value)


def custom_equality(encoded: Any) -> str:
    """The type name of an opaque value with its own ``__eq__`` anywhere in an encoding, or
    ``""`` (an encoding of data only, or of plain objects)."""
    stack = [encoded]
    while stack:
        item = stack.pop()
        if _type(item) is not list or not item:
            continue
        if item[0] == "o" and _len(item) == 4:
            if item[2] is True:
                return str(item[1])
            continue
        stack.extend(child for child in item[1:] if _type(child) is list)
    return ""


def well_formed(
    data: Any, *, max_depth: int = MAX_DEPTH + 8, max_nodes: int = 4 * MAX_NODES
) -> bool:
    """Whether ``data`` (parsed JSON from a child) is nested and sized within bounds, checked
    without recursion, so the worker forwards nothing the host cannot parse."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > max_depth or nodes > max_nodes:
            return False
        if _type(item) is list:
            stack.extend((child, depth + 1) for child in item)
        elif _type(item) is dict:
            return False
    return True
