"""The comma-separated choice helper shared by the CLI and the pipelines."""
import argparse

import pytest

from kerasdl.arguments import choose, comma_list


def test_comma_list_strips_and_drops_empty_parts():
    assert comma_list(" a, b,,c ,") == ["a", "b", "c"]
    assert comma_list("") == []


def test_choose_keeps_order_and_names_unknown_or_missing(capsys):
    parser = argparse.ArgumentParser(prog="p")
    assert choose(parser, "--models", "gpt, lstm,gpt", ["lstm", "gru", "gpt"]) == ["gpt", "lstm"]
    for text, shown in (("lstm,rnn9", "unknown rnn9"), (" , ", "unknown (none given)")):
        with pytest.raises(SystemExit) as exit_info:
            choose(parser, "--models", text, ["lstm", "gru"])
        assert exit_info.value.code == 2
        assert f"--models: {shown}; choose from lstm, gru" in capsys.readouterr().err
