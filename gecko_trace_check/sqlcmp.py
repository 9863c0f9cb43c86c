"""SQL comparison by meaning: BigQuery token streams, not bytes.

A warehouse reformats generated SQL (upper-case keywords, re-indented clauses, moved
line breaks), so whitespace, comments, keyword case and function-name case don't count;
any changed identifier, literal, operator or keyword does. Imported only when a SQL
file's bytes differ from the render: sqlglot is kept off the clean path.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass

from sqlglot.dialects.bigquery import BigQuery
from sqlglot.errors import SqlglotError
from sqlglot.tokens import Token, TokenType

_DIALECT = BigQuery()
# Words whose case BigQuery ignores are folded: keywords, and names called as functions.
_CASE_SENSITIVE = {TokenType.VAR, TokenType.IDENTIFIER, TokenType.NUMBER} | {t for t in TokenType if t.name.endswith("STRING")}
# Backtick-quoted and bare names are the same name.
_NAME_TYPES = {TokenType.VAR, TokenType.IDENTIFIER}
MAX_CHANGES = 3
MAX_SHOWN = 60


@dataclass(frozen=True)
class Word:
    """One token as the comparison sees it, with where it stands in its file."""

    kind: str
    text: str
    line: int


def tokens(sql: str) -> list[Word]:
    """The normalized token stream; raises ValueError when the text does not tokenize."""
    try:
        raw: list[Token] = _DIALECT.tokenize(sql.replace("\r\n", "\n"))
    except SqlglotError as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    words: list[Word] = []
    for index, token in enumerate(raw):
        if token.token_type == TokenType.ALIAS:
            continue  # `x AS y` and `x y` are the same alias; formatters add the optional AS
        calls = index + 1 < len(raw) and raw[index + 1].token_type == TokenType.L_PAREN
        text = token.text
        if token.token_type not in _CASE_SENSITIVE or (token.token_type == TokenType.VAR and calls):
            text = text.upper()
        if token.token_type in _NAME_TYPES:
            # `p.d.t`, `p`.`d`.`t` and p.d.t name the same table: one dotted name.
            if len(words) >= 2 and words[-1].kind == "DOT" and words[-2].kind == "name":
                words.pop()
                text = f"{words.pop().text}.{text}"
            if calls and text.upper().startswith("SAFE."):  # SAFE.PARSE_DATE: a function prefix
                text = "SAFE." + text[5:]
            words.append(Word("name", text, token.line))
        else:
            words.append(Word(token.token_type.name, text, token.line))
    return words


def _contrast(old: str, new: str) -> tuple[str, str]:
    """Long names that differ at the end are shown by their ends: ``...traces_v2 -> ...traces_v1``."""
    if len(old) <= MAX_SHOWN and len(new) <= MAX_SHOWN:
        return old, new
    common = len(os.path.commonprefix([old, new]))
    cut = max(old.rfind(".", 0, common), old.rfind(" ", 0, common))
    if cut > 0:
        old, new = "..." + old[cut + 1 :], "..." + new[cut + 1 :]
    clip = lambda text: text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."  # noqa: E731
    return clip(old), clip(new)


def describe(committed: list[Word], rendered: list[Word]) -> list[str]:
    """What changed, token-wise: ``line 12: MIN -> MAX``; old is the file, new the render."""
    key = lambda words: [(word.kind, word.text) for word in words]  # noqa: E731
    matcher = difflib.SequenceMatcher(a=key(committed), b=key(rendered), autojunk=False)
    changes = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            continue
        line = committed[a1].line if a1 < len(committed) else (committed[-1].line if committed else 1)
        old, new = _contrast(" ".join(w.text for w in committed[a1:a2]), " ".join(w.text for w in rendered[b1:b2]))
        if op == "replace":
            changes.append(f"line {line}: {old} -> {new}")
        elif op == "delete":
            changes.append(f"line {line}: {old} removed")
        else:
            changes.append(f"line {line}: {new} added")
    if len(changes) > MAX_CHANGES:
        changes = changes[:MAX_CHANGES] + [f"and {len(changes) - MAX_CHANGES} more changes"]
    return changes


def unified_diff(committed: str, rendered: str, path: str) -> str:
    """The render against the file, as the --fix would apply it.

    When the committed file was reformatted, a line diff is mostly noise; then both sides
    are pretty-printed by sqlglot first and the shorter of the two diffs is kept.
    """
    raw = _diff(committed, rendered, f"{path} (committed)", f"{path} (generated)")
    try:
        import sqlglot

        pretty_old = ";\n".join(e.sql("bigquery", pretty=True) for e in sqlglot.parse(committed, read="bigquery") if e)
        pretty_new = ";\n".join(e.sql("bigquery", pretty=True) for e in sqlglot.parse(rendered, read="bigquery") if e)
    except SqlglotError:
        return raw
    normalized = _diff(pretty_old, pretty_new, f"{path} (committed, normalized)", f"{path} (generated, normalized)")
    return normalized if normalized and _changed_lines(normalized) < _changed_lines(raw) else raw


def _diff(old: str, new: str, old_name: str, new_name: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm="", n=2)
    return "\n".join(lines)


def _changed_lines(diff: str) -> int:
    return sum(1 for line in diff.splitlines()[2:] if line[:1] in "+-")
