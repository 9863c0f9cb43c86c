"""Tests for the Python ports of the gecko_trace UDFs.

Expected digests, hashes and number strings below were NOT produced by the code
under test.  They come from a throwaway Node.js (v20) script, written
separately from the spec in the issue: cyrb64 with Math.imul/>>>,
``h.toString(36).padStart(7, "0")``, ``Object.entries`` for attributes,
``"" + value`` for String(), and the stack traversal.  Each case's input was fed
to it as JSON (so JSON.parse and V8 decided key order and number formatting)
and the printed results pasted here verbatim.  For the placeholder-root case,
where production throws, the script ran in a mode that skips a missing
``resource``/``scope`` (its output is the value this port promises instead).
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gecko_trace_check.udfs import _cyrb64, _js_string, build_root_span, calculate_signature

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _span(
    name: str,
    scope: str = "scope",
    attrs: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    children: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "name": name,
        "scope": {"name": scope},
        "resource": {"attributes": attrs or {}},
        "childSpans": children or [],
    }
    if events is not None:
        span["events"] = events
    return span


def _ids(tree: dict[str, Any]) -> list[Any]:
    """Every span_id in the tree, pre-order, children in list order."""
    out = [tree.get("span_id")]
    for child in tree["childSpans"]:
        out.extend(_ids(child))
    return out


# --------------------------------------------------------------------------
# cyrb64 and String(): vectors from Node.js
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (1217125560, 451841411)),
        ("a", (1344023463, 2194241793)),
        ("hello world", (1403753495, 3512537108)),
        ("h\u00e9llo", (2124256135, 3798043740)),
        # Outside the BMP: hashed as the surrogate pair \ud83d \ude00.
        ("\U0001f600", (2412825091, 1861858478)),
        ("\u65e5\u672c\u8a9e", (3913327464, 60938545)),
    ],
)
def test_cyrb64_matches_node(text: str, expected: tuple[int, int]) -> None:
    assert _cyrb64(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (2.5, "2.5"),
        (2.5e21, "2.5e+21"),
        (1e21, "1e+21"),
        (1e-7, "1e-7"),
        (0.000001, "0.000001"),
        (1.5e-6, "0.0000015"),
        (123456789012345680000, "123456789012345680000"),
        (12345678901234567890123, "1.2345678901234568e+22"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (1.23e-18, "1.23e-18"),
        (1e300, "1e+300"),
        (100, "100"),
        (-42.5, "-42.5"),
        (math.nan, "NaN"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (10**400, "Infinity"),  # JSON.parse overflows to Infinity
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ("text", "text"),
        ([1, [2, None, [3]], {}, True], "1,2,,3,[object Object],true"),
        ({"a": 1}, "[object Object]"),
    ],
)
def test_js_string_matches_node(value: Any, expected: str) -> None:
    assert _js_string(value) == expected


@settings(max_examples=500)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_js_number_string_round_trips(x: float) -> None:
    # JS prints the shortest digits that read back as the same double.
    assert float(_js_string(x)) == x


# --------------------------------------------------------------------------
# calculate_signature: vectors from Node.js
# --------------------------------------------------------------------------

ASCII_TREE = _span(
    "root",
    "gecko",
    {"process.type": "parent", "service.name": "firefox"},
    events=[{"name": "start", "attributes": {"k": "v"}}, {"name": "end", "attributes": {}}],
    children=[
        _span("child_a", "gecko", {"process.type": "content"}),
        _span("child_b", "gecko", {"process.type": "gpu"}, children=[_span("grandchild", "net")]),
    ],
)
ASCII_TREE_SIGNATURE = "1nb37sp1f5mhb9"

SIGNATURE_VECTORS: dict[str, tuple[dict[str, Any], str]] = {
    "minimal": (_span("test", "test_scope"), "0luxoru145n4d6"),
    "ascii_tree": (ASCII_TREE, ASCII_TREE_SIGNATURE),
    # Same tree, children swapped: order matters.
    "ascii_tree_swapped": (
        _span(
            "root",
            "gecko",
            {"process.type": "parent", "service.name": "firefox"},
            events=[{"name": "start", "attributes": {"k": "v"}}, {"name": "end", "attributes": {}}],
            children=[
                _span("child_b", "gecko", {"process.type": "gpu"}, children=[_span("grandchild", "net")]),
                _span("child_a", "gecko", {"process.type": "content"}),
            ],
        ),
        "0ivk7tj1rguykg",
    ),
    "non_ascii": (
        _span(
            "Ladezeit \u00fcberpr\u00fcfen \U0001f600",
            "\u65e5\u672c",
            {"cl\u00e9": "valeur \U0001f680"},
            events=[{"name": "\u00e9v\u00e9nement", "attributes": {"\U0001f600": "\u00e9"}}],
        ),
        "1tp9ulb0b9st19",
    ),
    # Integer-like keys are visited first, ascending; "01" and "-1" are not indices.
    "integer_keys": (_span("s", "sc", {"b": 1, "10": 2, "2": 3, "01": 4, "-1": 5, "a": 6}), "15vtc0e0zvcbpe"),
    "integer_keys_presorted": (
        _span("s", "sc", {"2": 3, "10": 2, "b": 1, "01": 4, "-1": 5, "a": 6}),
        "15vtc0e0zvcbpe",
    ),
    "values": (
        _span(
            "v",
            "sc",
            {
                "one": 1.0,
                "half": 2.5,
                "big": 2.5e21,
                "tiny": 1e-7,
                "micro": 0.000001,
                "long": 123456789012345680000,
                "t": True,
                "f": False,
                "n": None,
                "arr": [1, [2, None], "x", {}, True, None],
                "obj": {"nested": {"deep": 1}},
                "neg": -0.0,
            },
        ),
        "0vfrpx502fp5hg",
    ),
    "with_internal_id": (
        _span(
            "s",
            "sc",
            {"a": "x", "gecko_process_internal_id": 17},
            events=[{"name": "e", "attributes": {"gecko_process_internal_id": "zz", "b": 2}}],
        ),
        "0yq7er40kwzejq",
    ),
    "without_internal_id": (
        _span("s", "sc", {"a": "x"}, events=[{"name": "e", "attributes": {"b": 2}}]),
        "0yq7er40kwzejq",
    ),
    # Production's `key in {...}` also matches Object.prototype names; kept for parity.
    "prototype_keys": (_span("s", "sc", {"constructor": "c", "toString": "t", "a": 1, "__proto__": 5}), "10a537617nwpac"),
    # Absent names hash as "undefined" (production does not throw there).
    "no_name": (
        {"scope": {"name": "sc"}, "resource": {"attributes": {}}, "childSpans": [], "events": [{"attributes": {}}]},
        "1gzsck50bi3a6n",
    ),
    "null_name": (
        {"name": None, "scope": {"name": None}, "resource": {"attributes": {}}, "childSpans": []},
        "18hu4zz1ttgv4t",
    ),
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_VECTORS))
def test_signature_matches_node(case: str) -> None:
    tree, expected = SIGNATURE_VECTORS[case]
    assert calculate_signature(tree) == expected


@pytest.mark.parametrize("case", sorted(SIGNATURE_VECTORS))
def test_signature_accepts_json_text(case: str) -> None:
    tree, expected = SIGNATURE_VECTORS[case]
    assert calculate_signature(json.dumps(tree)) == expected


def test_signature_of_none_is_empty() -> None:
    assert calculate_signature(None) == ""
    assert calculate_signature("null") == ""


def test_signature_of_placeholder_root_does_not_raise() -> None:
    # Production throws here ("Cannot read properties of undefined (reading
    # 'attributes')"); we skip the absent resource and scope, hash the absent
    # name as "undefined", and go on to the children.
    root = {
        "span_id": "p",
        "childSpans": [_span("child_a", "gecko", {"x": 1}), _span("child_b", "gecko")],
        "type": "missing",
    }
    assert calculate_signature(root) == "0xlba7m17ux0b0"


def test_signature_of_built_placeholder_root() -> None:
    spans = [
        {"span_id": "a", "parent_span_id": "lost", **_span("child_a", "gecko", {"x": 1})},
        {"span_id": "b", "parent_span_id": "lost", **_span("child_b", "gecko")},
    ]
    root = build_root_span(spans)
    assert root is not None and root["type"] == "missing"
    assert calculate_signature(root) == "0xlba7m17ux0b0"


def test_signature_skips_malformed_parts() -> None:
    # Each of these makes production throw; none may make ours throw.
    for tree in [
        {"name": "x"},
        {"name": "x", "resource": None, "scope": None, "childSpans": None},
        {"name": "x", "resource": {}, "scope": {"name": "s"}, "events": [None, 3, {"name": "e"}], "childSpans": [None, 1]},
        {"name": "x", "resource": {"attributes": None}, "scope": "s", "events": {"a": 1}, "childSpans": {}},
    ]:
        assert len(calculate_signature(tree)) == 14


def test_signature_end_to_end_from_flat_spans() -> None:
    # The flat spans of ASCII_TREE, child before parent; build_root_span must
    # rebuild the same tree, hence the same Node-computed signature.
    def flat(span_id: str, parent: str, name: str, scope: str, attrs: dict[str, Any], **extra: Any) -> dict[str, Any]:
        span = {"span_id": span_id, "parent_span_id": parent, **_span(name, scope, attrs), **extra}
        del span["childSpans"]  # flat spans as stored, no tree yet
        return span

    spans = [
        flat("g", "b", "grandchild", "net", {}),
        flat("a", "r", "child_a", "gecko", {"process.type": "content"}),
        flat(
            "r",
            "",
            "root",
            "gecko",
            {"process.type": "parent", "service.name": "firefox"},
            events=[{"name": "start", "attributes": {"k": "v"}}, {"name": "end", "attributes": {}}],
        ),
        flat("b", "r", "child_b", "gecko", {"process.type": "gpu"}),
    ]
    root = build_root_span([json.dumps(s) for s in spans])
    assert root is not None
    assert calculate_signature(root) == ASCII_TREE_SIGNATURE


# Hypothesis: gecko_process_internal_id never affects the signature.

_json_scalars = (
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False) | st.text(max_size=8)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
_attrs = st.dictionaries(st.text(max_size=6), _json_values, max_size=5)


def _with_internal_id(attrs: dict[str, Any], value: Any, position: int) -> dict[str, Any]:
    items = list(attrs.items())
    items.insert(position % (len(items) + 1), ("gecko_process_internal_id", value))
    return dict(items)


@settings(max_examples=100, deadline=None)
@given(resource=_attrs, event_attrs=_attrs, child_attrs=_attrs, internal_id=_json_values, position=st.integers(0, 10))
def test_signature_ignores_gecko_process_internal_id(
    resource: dict[str, Any], event_attrs: dict[str, Any], child_attrs: dict[str, Any], internal_id: Any, position: int
) -> None:
    def tree(with_id: bool) -> dict[str, Any]:
        def a(attrs: dict[str, Any]) -> dict[str, Any]:
            clean = {k: v for k, v in attrs.items() if k != "gecko_process_internal_id"}
            return _with_internal_id(clean, internal_id, position) if with_id else clean

        events = [{"name": "e", "attributes": a(event_attrs)}]
        return _span("root", "sc", a(resource), events=events, children=[_span("c", "sc", a(child_attrs))])

    assert calculate_signature(tree(True)) == calculate_signature(tree(False))


# --------------------------------------------------------------------------
# build_root_span
# --------------------------------------------------------------------------


def test_build_root_with_children_in_order() -> None:
    spans = [
        {"span_id": "r", "name": "root"},
        {"span_id": "a", "parent_span_id": "r"},
        {"span_id": "b", "parent_span_id": "r"},
        {"span_id": "c", "parent_span_id": "a"},
    ]
    root = build_root_span(spans)
    assert root is not None
    assert root["span_id"] == "r" and root["name"] == "root"
    assert [c["span_id"] for c in root["childSpans"]] == ["a", "b"]
    assert [c["span_id"] for c in root["childSpans"][0]["childSpans"]] == ["c"]
    assert root["childSpans"][1]["childSpans"] == []
    assert "type" not in root


def test_build_child_before_parent_takes_over_placeholder() -> None:
    spans = [
        {"span_id": "c1", "parent_span_id": "p"},
        {"span_id": "c2", "parent_span_id": "p"},
        {"span_id": "r"},
        {"span_id": "p", "parent_span_id": "r", "name": "parent"},
        {"span_id": "c3", "parent_span_id": "p"},
    ]
    root = build_root_span(spans)
    assert root is not None and root["span_id"] == "r"
    (parent,) = root["childSpans"]
    assert parent["name"] == "parent" and "type" not in parent
    assert [c["span_id"] for c in parent["childSpans"]] == ["c1", "c2", "c3"]


def test_build_missing_root_uses_single_placeholder() -> None:
    spans = [
        {"span_id": "a", "parent_span_id": "lost"},
        {"span_id": "b", "parent_span_id": "a"},
        {"span_id": "c", "parent_span_id": "lost"},
    ]
    root = build_root_span(spans)
    assert root == {
        "span_id": "lost",
        "type": "missing",
        "childSpans": [
            {
                "span_id": "a",
                "parent_span_id": "lost",
                "childSpans": [{"span_id": "b", "parent_span_id": "a", "childSpans": []}],
            },
            {"span_id": "c", "parent_span_id": "lost", "childSpans": []},
        ],
    }


def test_build_several_placeholders_is_an_error() -> None:
    spans = [{"span_id": "a", "parent_span_id": "x"}, {"span_id": "b", "parent_span_id": "y"}]
    with pytest.raises(ValueError, match="found 2"):
        build_root_span(spans)


def test_build_no_root_no_placeholder_is_an_error() -> None:
    # A parent cycle: every span has a parent that exists.
    spans = [{"span_id": "a", "parent_span_id": "b"}, {"span_id": "b", "parent_span_id": "a"}]
    with pytest.raises(ValueError, match="found 0"):
        build_root_span(spans)


def test_build_no_spans_is_none() -> None:
    assert build_root_span([]) is None
    assert build_root_span(None) is None
    assert build_root_span(iter([])) is None


def test_build_two_roots_last_wins() -> None:
    spans = [
        {"span_id": "r1", "name": "first"},
        {"span_id": "a", "parent_span_id": "r1"},
        {"span_id": "r2", "name": "second"},
        {"span_id": "b", "parent_span_id": "r2"},
    ]
    root = build_root_span(spans)
    assert root is not None and root["name"] == "second"
    assert [c["span_id"] for c in root["childSpans"]] == ["b"]


@pytest.mark.parametrize("no_parent", [{}, {"parent_span_id": None}, {"parent_span_id": ""}])
def test_build_absent_null_and_empty_parent_mean_root(no_parent: dict[str, Any]) -> None:
    # Production tests `!span.parent_span_id` (JS falsiness).
    spans = [{"span_id": "c", "parent_span_id": "r"}, {"span_id": "r", **no_parent}]
    root = build_root_span(spans)
    assert root is not None and root["span_id"] == "r"
    assert [c["span_id"] for c in root["childSpans"]] == ["c"]


def test_build_root_with_empty_span_id_still_counts() -> None:
    # Production's `if (!rootSpanId)` would ignore a root whose id is "" and
    # then fail for want of a placeholder; a parentless span is the root.
    # (No span can name it as parent: parent_span_id "" means "no parent".)
    root = build_root_span([{"span_id": "", "name": "root"}])
    assert root == {"span_id": "", "name": "root", "childSpans": []}


def test_build_accepts_json_text_and_dicts() -> None:
    root = build_root_span(['{"span_id": "r", "parent_span_id": null}', {"span_id": "a", "parent_span_id": "r"}])
    child = {"span_id": "a", "parent_span_id": "r", "childSpans": []}
    assert root == {"span_id": "r", "parent_span_id": None, "childSpans": [child]}


def test_build_rejects_non_object_span() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        build_root_span(["[1, 2]"])


def test_build_does_not_mutate_input() -> None:
    spans = [
        {"span_id": "a", "parent_span_id": "r", "resource": {"attributes": {"k": 1}}},
        {"span_id": "r", "childSpans": ["stale"]},
    ]
    before = copy.deepcopy(spans)
    root = build_root_span(spans)
    assert spans == before
    assert root is not None and root["childSpans"][0]["span_id"] == "a"


# Hypothesis: any well-formed trace, in any order, comes back whole.


@st.composite
def _trace(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[int, list[int]]]:
    """Spans of a random tree (span i's parent is some j < i) in a random order."""
    n = draw(st.integers(1, 25))
    parents = [None] + [draw(st.integers(0, i - 1)) for i in range(1, n)]
    order = draw(st.permutations(range(n)))
    spans = []
    for i in order:
        span: dict[str, Any] = {"span_id": f"s{i}", "name": f"n{i}"}
        if parents[i] is not None:
            span["parent_span_id"] = f"s{parents[i]}"
        spans.append(span)
    # Expected children of each span, in input order.
    children: dict[int, list[int]] = {i: [] for i in range(n)}
    for i in order:
        if parents[i] is not None:
            children[parents[i]].append(i)
    return spans, children


def _check_tree(node: dict[str, Any], children: dict[int, list[int]]) -> None:
    i = int(node["span_id"][1:])
    assert [int(c["span_id"][1:]) for c in node["childSpans"]] == children[i]
    for child in node["childSpans"]:
        _check_tree(child, children)


@settings(max_examples=200)
@given(_trace())
def test_build_keeps_every_span_exactly_once(trace: tuple[list[dict[str, Any]], dict[int, list[int]]]) -> None:
    spans, children = trace
    root = build_root_span(spans)
    assert root is not None and root["span_id"] == "s0"
    assert sorted(_ids(root)) == sorted(s["span_id"] for s in spans)
    _check_tree(root, children)


@settings(max_examples=200)
@given(_trace())
def test_build_without_root_keeps_the_rest_under_a_placeholder(
    trace: tuple[list[dict[str, Any]], dict[int, list[int]]],
) -> None:
    spans, children = trace
    rest = [s for s in spans if s["span_id"] != "s0"]
    if not rest:
        assert build_root_span(rest) is None
        return
    root = build_root_span(rest)
    assert root is not None and root["type"] == "missing" and root["span_id"] == "s0"
    assert sorted(_ids(root)) == sorted(s["span_id"] for s in spans)
    _check_tree(root, children)

