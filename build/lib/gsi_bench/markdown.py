"""Markdown output that user-controlled text cannot break or inject into.

Run labels (editor specs, folder names), notes and messages reach the leaderboard, reports and histories. A
``|`` or a newline in them would break a table; ``<script>``, ``[x](javascript:...)`` or ``*`` would become
markup. :func:`escape_markdown` makes such text literal; :func:`table` builds GitHub-flavoured tables whose
cells can never split a row.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

#: Characters that start or end inline markup, links, headings or table cells anywhere in a line (list markers
#: such as ``-`` only count at the start of a line, where escaped text never stands; ``<`` ``>`` ``&`` become
#: HTML entities).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#|~])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x0b\x0c\x85]+")


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown: one line, HTML special characters as entities, markup characters
    backslash-escaped (so ``[x](javascript:alert(1))`` is shown, not linked)."""
    one_line = _LINE_BREAKS.sub(" ", str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(one_line, quote=False))


def _cell(text: str) -> str:
    """A table cell that cannot end its row: line breaks become spaces and unescaped pipes are escaped."""
    one_line = _LINE_BREAKS.sub(" ", str(text))
    return re.sub(r"(?<!\\)\|", r"\\|", one_line)


def table_row(cells: Sequence[str]) -> str:
    """One row of a Markdown table (cells as in :func:`table`)."""
    return "| " + " | ".join(map(_cell, cells)) + " |"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a GitHub-flavoured Markdown table. Cells are trusted markup except that they cannot break the
    table (see :func:`_cell`); pass user-controlled text through :func:`escape_markdown` first."""
    return [table_row(header), "|" + "|".join("---" for _ in header) + "|", *map(table_row, rows)]
