"""Fuzzed bad input (hypothesis): the CLI parser, model configs and input pipelines either work or
fail with a clear, named error — never a traceback from deep inside Keras or TensorFlow."""
import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kerasdl
from kerasdl.cli import build_parser, main
from kerasdl.data.pipelines import from_arrays
from kerasdl.registry import MODELS, UnknownNameError

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WORDS = st.text(string.ascii_letters + string.digits + "-_=,.{}[]\":' ", max_size=12)
OPTIONS = ["--model", "--dataset", "--epochs", "--batch-size", "--lr", "--jit", "--workers",
           "--max-restarts", "--model-kwargs", "--export-modes", "--seed", "--strategy", "--fast"]
# JSON-able values a person might type by mistake, kept small enough to build quickly
VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 40) | st.floats(-2, 2) | WORDS,
                      lambda inner: st.lists(inner, max_size=3), max_leaves=4)


@FUZZ
@given(st.lists(st.sampled_from(OPTIONS) | WORDS, max_size=6))
def test_train_arguments_parse_or_exit_with_usage(words):
    try:
        build_parser().parse_args(["train", *words])
    except SystemExit as exit_info:  # argparse's usage error
        assert exit_info.code == 2


@FUZZ
@given(name=st.sampled_from(["mlp", "simple_cnn", "lenet5"]),
       kwargs=st.dictionaries(st.sampled_from(["hidden_units", "filters", "dense_units", "dropout",
                                               "num_classes", "input_shape", "activation", "bogus"]),
                              VALUES, max_size=3))
def test_model_kwargs_build_or_fail_clearly(name, kwargs, capsys):
    import json

    code = main(["models", "info", name, "--no-summary", "--model-kwargs", json.dumps(kwargs)])
    out, err = capsys.readouterr()
    assert code in (0, 2)
    if code == 2:
        assert err.startswith("kerasdl: error:") and len(err) < 2000, err


@FUZZ
@given(st.text(string.ascii_lowercase + string.digits + "_", min_size=1, max_size=14))
def test_unknown_model_names_are_named(name):
    if name in MODELS.names():
        return
    with pytest.raises(UnknownNameError, match=name):
        kerasdl.create_model(name)


@FUZZ
@given(n=st.integers(0, 5), m=st.integers(0, 5), dims=st.integers(0, 3),
       dtype=st.sampled_from(["uint8", "float32", "int64", "bool", "object", "<U3"]),
       batch=st.one_of(st.integers(-2, 8), st.floats(0, 4), st.none(), st.just(True)))
def test_from_arrays_accepts_or_names_the_problem(n, m, dims, dtype, batch):
    x = np.zeros((n, *([2] * dims)), dtype=dtype) if dims else np.zeros(n, dtype=dtype)
    y = np.zeros(m, "int32")
    try:
        ds = from_arrays(x, y, batch, training=False)
    except ValueError as err:
        assert any(word in str(err) for word in ("batch_size", "length", "empty", "numeric", "shape")), err
    else:
        assert n == m > 0 and isinstance(batch, int) and not isinstance(batch, bool) and batch > 0
        assert sum(int(b[0].shape[0]) for b in ds) == n
