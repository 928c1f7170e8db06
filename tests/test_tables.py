"""kerasdl.tables.markdown_table: the one Markdown table writer behind the README, pipeline and
benchmark tables."""
import re

import pytest

from kerasdl.tables import markdown_table


def test_markdown_table_rows_and_alignment():
    text = markdown_table(["model", "params", "acc"], [("lenet5", f"{61706:,}", 0.885), ["vgg", 7, "91%"]],
                          align="lrr")
    assert text.splitlines() == ["| model | params | acc |", "|---|---:|---:|",
                                 "| lenet5 | 61,706 | 0.885 |", "| vgg | 7 | 91% |"]
    assert markdown_table(["a", "b"], []).splitlines() == ["| a | b |", "|---|---|"]


@pytest.mark.parametrize("header,rows,align,message", [
    (["a", "b"], [(1,)], "", "row 0 has 1 cells for 2 columns"),
    (["a", "b"], [(1, 2, 3)], "", "row 0 has 3 cells for 2 columns"),
    (["a", "b"], [], "l", "need one 'l' or 'r' per column (2 columns)"),
    (["a", "b"], [], "lc", "need one 'l' or 'r' per column"),
])
def test_markdown_table_rejects_ragged_rows_and_bad_alignment(header, rows, align, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        markdown_table(header, rows, align=align)
