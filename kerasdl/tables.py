"""Markdown tables for results: the README's, the pipelines' and the benchmarks' printed tables."""
from __future__ import annotations

from typing import Iterable, Sequence


def markdown_table(header: Sequence, rows: Iterable[Sequence], align: str = "") -> str:
    """A GitHub Markdown table; ``align`` has one ``l`` or ``r`` per column (default: all ``l``).

    Cells are written with ``str``; every row must have one cell per header column.
    """
    header = [str(cell) for cell in header]
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align={align!r}: need one 'l' or 'r' per column ({len(header)} columns)")
    lines = ["| " + " | ".join(header) + " |",
             "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    for i, row in enumerate(rows):
        cells = [str(cell) for cell in row]
        if len(cells) != len(header):
            raise ValueError(f"row {i} has {len(cells)} cells for {len(header)} columns: {cells}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
