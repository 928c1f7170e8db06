"""Command-line argument helpers shared by the ``kerasdl`` CLI and the pipeline scripts."""
from __future__ import annotations

import argparse
from collections.abc import Iterable


def comma_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def choose(parser: argparse.ArgumentParser, option: str, text: str, known: Iterable[str]) -> list[str]:
    """The comma-separated names of ``text`` (the value of ``option``), each one of ``known``
    (repeats dropped); otherwise ``parser.error`` names the unknown ones and lists the known ones."""
    known = list(known)
    names = list(dict.fromkeys(comma_list(text)))  # each once, in the order given
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        parser.error(f"{option}: unknown {', '.join(unknown) or '(none given)'}; "
                     f"choose from {', '.join(known)}")
    return names
