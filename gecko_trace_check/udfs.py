"""Pure-Python ports of the ``mozfun.gecko_trace`` JavaScript UDFs.

BigQuery runs ``build_root_span`` and ``calculate_signature`` as JavaScript; to
run the same pipeline on DuckDB (and to test it) we need Python functions that
give the same answers.  Two things make that less trivial than it looks:

* the signature hashes JavaScript *strings*, so ``String(x)``, object key order
  and UTF-16 code units must all be reproduced exactly;
* the production functions throw on some malformed traces, and a throw in a UDF
  fails the whole query.  Ours never throws in ``calculate_signature``: any step
  that would throw in JavaScript is skipped instead.  On every input where the
  JavaScript returns a value, ours returns the same value.

Inputs may be Python objects or JSON text, because DuckDB hands JSON columns to
Python UDFs as strings.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["build_root_span", "calculate_signature"]

# --------------------------------------------------------------------------
# build_root_span
# --------------------------------------------------------------------------


def _load_json(value: Any) -> Any:
    """Decode ``value`` if it is JSON text; pass already-decoded values through."""
    if isinstance(value, (str, bytes, bytearray)):
        return json.loads(value)
    return value


def _js_truthy(value: Any) -> bool:
    """JavaScript truthiness of a JSON value (``not`` in Python differs on [] and {})."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True  # arrays and objects, even empty ones, are truthy in JS


def _has_parent(span: dict[str, Any]) -> bool:
    """Whether ``span`` names a parent.

    Production tests ``!span.parent_span_id``, so an absent key, ``null`` and
    ``""`` (and ``false``/``0``) all mean "no parent": the span is a root.
    """
    return _js_truthy(span.get("parent_span_id"))


def _placeholder(span_id: Any) -> dict[str, Any]:
    """Stand-in for a parent that has not been seen (yet, or at all)."""
    return {"span_id": span_id, "childSpans": [], "type": "missing"}


def build_root_span(spans: Iterable[Any] | None) -> dict[str, Any] | None:
    """Assemble a trace's flat span list into one tree and return its root.

    Each span (a dict or a JSON object string) is copied and given a
    ``childSpans`` list; children are appended in input order.  A span whose
    parent has not appeared yet is hung on a placeholder
    ``{"span_id", "childSpans": [], "type": "missing"}`` whose children the real
    parent takes over when it arrives.  The root is the last span without a
    parent; failing that, the one placeholder left over (the root span was
    lost).  Returns ``None`` for no spans.

    Raises ``ValueError`` if there is no root and not exactly one placeholder,
    or if a span is not a JSON object.
    """
    if spans is None:
        return None
    by_id: dict[Any, dict[str, Any]] = {}
    # Placeholders are recognised by identity, not by their "type" field, so a
    # real span that happens to carry type "missing" is never mistaken for one.
    placeholder_ids: set[int] = set()
    root: dict[str, Any] | None = None
    seen_any = False

    for raw in spans:
        seen_any = True
        loaded = _load_json(raw)
        if not isinstance(loaded, dict):
            raise ValueError(f"build_root_span: each span must be a JSON object, got {type(loaded).__name__}")
        span = dict(loaded)  # shallow copy: we only ever add "childSpans" to it
        span_id = span.get("span_id")

        earlier = by_id.get(span_id)
        if earlier is not None and id(earlier) in placeholder_ids:
            # Children that arrived before their parent now belong to it.
            span["childSpans"] = earlier["childSpans"]
            placeholder_ids.discard(id(earlier))
        else:
            span["childSpans"] = []
        by_id[span_id] = span

        if not _has_parent(span):
            root = span  # the last parentless span wins, as in production
            continue

        parent_id = span["parent_span_id"]
        parent = by_id.get(parent_id)
        if parent is None:
            parent = _placeholder(parent_id)
            placeholder_ids.add(id(parent))
            by_id[parent_id] = parent
        parent["childSpans"].append(span)

    if not seen_any:
        return None
    if root is not None:
        return root

    placeholders = [s for s in by_id.values() if id(s) in placeholder_ids]
    if len(placeholders) != 1:
        raise ValueError(
            "Unable to construct span tree: no span without parent_span_id, and "
            f"expected exactly one missing parent span to use as root, but found {len(placeholders)}"
        )
    return placeholders[0]


# --------------------------------------------------------------------------
# JavaScript string conversion
# --------------------------------------------------------------------------


class _Undefined:
    """JavaScript ``undefined``: what reading an absent property yields."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED = _Undefined()


def _js_number_to_string(x: float) -> str:
    """``Number.prototype.toString()`` (radix 10), ECMA-262 Number::toString.

    Python's ``repr`` already gives the shortest digit string that round-trips
    (the same digits JavaScript picks); only the layout rules differ.
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"  # also for -0, which JS prints without a sign
    if x < 0:
        return "-" + _js_number_to_string(-x)

    # Split repr into digits and n, with value = 0.<digits> * 10**n.
    mantissa, _, exp_text = repr(x).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = int_part + frac_part
    n = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)

    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    head = digits[0] if k == 1 else digits[0] + "." + digits[1:]
    return f"{head}e{sign}{abs(exponent)}"


def _to_js_number(value: int | float) -> float:
    """A JSON number as JavaScript sees it: a double (big ints lose precision)."""
    try:
        return float(value)
    except OverflowError:  # ints beyond double range parse to ±Infinity in JS
        return math.inf if value > 0 else -math.inf


def _js_string(value: Any) -> str:
    """``String(value)`` for a JSON value (``"" + value`` in the UDF)."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _js_number_to_string(_to_js_number(value))
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        # Array.prototype.join: null/undefined elements become "".
        return ",".join("" if v is None or v is UNDEFINED else _js_string(v) for v in value)
    return "[object Object]"


def _is_array_index(key: str) -> bool:
    """Whether ``key`` is a canonical array index ("0", "42"; not "01", "-1")."""
    if not key.isdigit() or not key.isascii():
        return False
    if len(key) > 1 and key[0] == "0":
        return False
    return int(key) <= 2**32 - 2


def _js_entries(obj: Any) -> Iterator[tuple[str, Any]]:
    """``Object.entries(obj)`` in JavaScript's own-key order.

    Array-index keys come first in ascending numeric order, then the other
    keys in insertion order (which ``json.loads`` preserves, like JSON.parse).
    """
    if isinstance(obj, dict):
        keys = [str(k) for k in obj]
        values = dict(zip(keys, obj.values()))
        indices = sorted((k for k in keys if _is_array_index(k)), key=int)
        others = [k for k in keys if not _is_array_index(k)]
        for key in indices + others:
            yield key, values[key]
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield str(i), v
    elif isinstance(obj, str):
        # A string's entries are its UTF-16 code units.
        units = _utf16_units(obj)
        for i, unit in enumerate(units):
            yield str(i), chr(unit)
    # Numbers and booleans have no own enumerable properties.


# --------------------------------------------------------------------------
# cyrb64 and the signature
# --------------------------------------------------------------------------

_MASK32 = 0xFFFFFFFF


def _utf16_units(text: str) -> tuple[int, ...]:
    """The UTF-16 code units of ``text``, what JavaScript's charCodeAt walks.

    Characters outside the BMP become surrogate pairs; lone surrogates (which
    Python strings can hold) pass through as themselves.
    """
    data = text.encode("utf-16-le", "surrogatepass")
    return struct.unpack(f"<{len(data) // 2}H", data)


def _imul(a: int, b: int) -> int:
    """``Math.imul`` reduced to its low 32 bits, as an unsigned int.

    JS bitwise operators work on int32 but only the bit pattern matters for
    ``^``, ``imul`` and ``>>>``, so keeping every value as uint32 is exact.
    """
    return (a * b) & _MASK32


def _cyrb64(text: str) -> tuple[int, int]:
    """cyrb64 with seed 0: returns ``(h2, h1)`` as unsigned 32-bit ints."""
    h1 = 0xDEADBEEF
    h2 = 0x41C6CE57
    for unit in _utf16_units(text):
        h1 = _imul(h1 ^ unit, 2654435761)
        h2 = _imul(h2 ^ unit, 1597334677)
    h1 = _imul(h1 ^ (h1 >> 16), 2246822507)
    h1 ^= _imul(h2 ^ (h2 >> 13), 3266489909)
    h2 = _imul(h2 ^ (h2 >> 16), 2246822507)
    h2 ^= _imul(h1 ^ (h1 >> 13), 3266489909)
    return h2, h1


_BASE36_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(n: int) -> str:
    """``n.toString(36)`` for a non-negative integer."""
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_BASE36_DIGITS[r])
    return "".join(reversed(out))


# Production skips an attribute when ``key in {"gecko_process_internal_id": null}``.
# ``in`` also sees Object.prototype, so these names are skipped too; we keep
# that quirk so signatures match BigQuery's.
_SKIPPED_ATTRIBUTES = frozenset(
    {
        "gecko_process_internal_id",
        "constructor",
        "__defineGetter__",
        "__defineSetter__",
        "hasOwnProperty",
        "__lookupGetter__",
        "__lookupSetter__",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toString",
        "valueOf",
        "__proto__",
        "toLocaleString",
    }
)


class _Digest:
    """The running digest: each hashed value is chained onto the previous digest."""

    def __init__(self) -> None:
        self.value = ""

    def add(self, x: Any) -> None:
        h2, h1 = _cyrb64(self.value + _js_string(x))
        self.value = _base36(h2).zfill(7) + _base36(h1).zfill(7)

    def add_attributes(self, attrs: Any) -> None:
        """Hash each key then value; ``Object.entries`` of null/undefined throws, so skip it."""
        if attrs is None or attrs is UNDEFINED:
            return
        for key, value in _js_entries(attrs):
            if key in _SKIPPED_ATTRIBUTES:
                continue
            self.add(key)
            self.add(value)


def _prop(obj: dict[str, Any], key: str) -> Any:
    """``obj[key]`` with JavaScript's ``undefined`` for an absent key."""
    return obj.get(key, UNDEFINED)


def _hash_span(digest: _Digest, span: dict[str, Any]) -> None:
    """Hash one span's own fields (not its children), skipping what would throw."""
    resource = _prop(span, "resource")
    if isinstance(resource, dict):
        digest.add_attributes(_prop(resource, "attributes"))
    # (A non-object resource makes production throw at .attributes: skipped.)

    scope = _prop(span, "scope")
    if isinstance(scope, dict):
        digest.add(_prop(scope, "name"))
    elif scope is not None and scope is not UNDEFINED:
        digest.add(UNDEFINED)  # e.g. "abc".name is undefined, not an error

    # An absent name is hashed as "undefined", exactly as production does.
    digest.add(_prop(span, "name"))

    events = _prop(span, "events")
    if isinstance(events, list):
        for event in events:
            # A non-object event makes production throw (at .name or at
            # Object.entries(undefined)); skip it rather than fail the query.
            if isinstance(event, dict):
                digest.add(_prop(event, "name"))
                digest.add_attributes(_prop(event, "attributes"))
    # Truthy non-array events make production throw; falsy ones are skipped there too.


def calculate_signature(root_span: Any) -> str:
    """Signature of a span tree built by :func:`build_root_span`.

    A depth-first walk with an explicit stack (children pushed in order, so the
    last child is visited first) feeds resource attributes, scope name, span
    name and events of every span into a chained cyrb64 digest; the result is
    14 base-36 characters, or ``""`` for no root.  ``root_span`` may be a dict
    or JSON text.

    Unlike production, missing ``resource``/``scope``/``childSpans`` (as on a
    placeholder root) are skipped instead of raising, so one trace whose root
    span was lost cannot fail a whole day's query.
    """
    root = _load_json(root_span)
    if root is None:
        return ""
    digest = _Digest()
    stack: list[Any] = [root]
    while stack:
        span = stack.pop()
        if not isinstance(span, dict):
            continue  # production throws on span.resource for these
        _hash_span(digest, span)
        children = _prop(span, "childSpans")
        if isinstance(children, list):
            stack.extend(children)
    return digest.value
