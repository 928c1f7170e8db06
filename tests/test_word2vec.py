"""word2vec: training-data generation (vocabulary, subsampling, windows, negative sampling), the
skip-gram / CBOW scorers, the word-vector evaluation (checked against gensim) and the pipeline."""
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import kerasdl
from kerasdl.data import word2vec as data
from kerasdl.analysis.word_vectors import WordVectors, read_word_pairs

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------ corpus
def test_tokenize_letters_lowercase_and_paragraph_sentences():
    text = "Mr. Darcy's letter--\nit came.\n\n \n\nShe read it twice!\n\n..."
    assert data.tokenize(text) == [["mr", "darcy", "s", "letter", "it", "came"],
                                   ["she", "read", "it", "twice"]]
    with pytest.raises(TypeError, match="expects a str"):
        data.tokenize(["a list"])


def test_vocabulary_orders_by_count_reserves_ids_and_drops_rare_words():
    sentences = [["b", "a", "b", "c"], ["a", "b", "rare"]]
    vocab = data.build_vocabulary(sentences, min_count=2)
    assert vocab.words == ("", "[UNK]", "b", "a")
    np.testing.assert_array_equal(vocab.counts, [0, 0, 3, 2])
    assert "a" in vocab and "c" not in vocab and "[UNK]" not in vocab and vocab.id("c") == 1
    encoded = vocab.encode(sentences)
    np.testing.assert_array_equal(encoded[0], [2, 3, 2])
    np.testing.assert_array_equal(encoded[1], [3, 2])
    with pytest.raises(ValueError, match="empty vocabulary"):
        data.build_vocabulary(sentences, min_count=10)


def test_keep_probabilities_equal_gensims():
    """gensim stores each word's keep probability as round(p * 2**32) ("sample_int")."""
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    zipf = 1.0 / np.arange(1, 41) ** 1.1
    sentences = [list(rng.choice(words, 50, p=zipf / zipf.sum())) for _ in range(400)]
    vocab = data.build_vocabulary(sentences, min_count=1)
    seen = []
    for sample in (1e-1, 1e-3):
        ours = data.keep_probabilities(vocab.counts, sample)
        model = gensim_models.Word2Vec(min_count=1, sample=sample, vector_size=4)
        model.build_vocab(sentences)
        theirs = {w: model.wv.get_vecattr(w, "sample_int") / 2 ** 32 for w in model.wv.index_to_key}
        assert ours[:2].tolist() == [0.0, 0.0]  # padding, UNK
        for word in vocab.words[2:]:
            assert ours[vocab.id(word)] == pytest.approx(theirs[word], abs=1e-9), word
        seen.extend(ours[2:])
    assert min(seen) < 0.1 and max(seen) == 1.0  # both regimes, the cap at 1 included
    np.testing.assert_array_equal(data.keep_probabilities(vocab.counts, 0.0)[2:], 1.0)


def test_subsampling_keeps_each_word_at_its_probability():
    """Sampled through the real epoch builder: kept centres per word / occurrences ~ keep prob."""
    counts = np.array([0, 0, 20_000, 4_000, 1_000, 50])
    rng = np.random.default_rng(1)
    ids = rng.permutation(np.repeat(np.arange(6), counts)).astype(np.int32)
    keep = data.keep_probabilities(counts, 1e-2)
    contexts, centres = data._epoch_examples(
        tf.constant(ids), tf.zeros(len(ids), tf.int32), tf.constant(keep, tf.float32),
        tf.constant([3, 4], tf.int64), mode="cbow", window=1, dynamic_window=False)
    kept = np.bincount(centres.numpy(), minlength=6)
    for i in range(2, 6):
        sigma = np.sqrt(counts[i] * keep[i] * (1 - keep[i]))
        assert abs(kept[i] - counts[i] * keep[i]) <= 4 * sigma + 1, (i, kept[i], keep[i])


def test_negative_sampling_matches_unigram_to_the_075():
    counts = np.array([0, 0, 5_000, 1_200, 300, 300, 40, 7, 1])
    expected = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(data.negative_sampling_distribution(counts), expected)
    n = 200_000
    drawn = data.sample_negatives(data.negative_sampling_cdf(counts), [n // 4, 4],
                                  tf.constant([7, 8], tf.int64)).numpy()
    assert drawn.dtype == np.int32 and drawn.shape == (n // 4, 4)
    observed = np.bincount(drawn.ravel(), minlength=len(counts))
    assert observed[:2].sum() == 0  # padding and UNK are never negatives
    chi2 = stats.chisquare(observed[2:], n * expected[2:])
    assert chi2.pvalue > 1e-3, chi2
    # and unigram^1 would be rejected: the 0.75 power is what the sample follows
    assert stats.chisquare(observed[2:], n * counts[2:] / counts.sum()).pvalue < 1e-12


# --------------------------------------------------------------------------------- windows
# two sentences: ids 2 3 4 5 | 6 7
IDS = np.array([2, 3, 4, 5, 6, 7], np.int32)
SENTENCES = np.array([0, 0, 0, 0, 1, 1], np.int32)


def test_skipgram_pairs_equal_hand_enumeration():
    contexts = data.context_windows(IDS, SENTENCES, np.full(6, 2), max_window=2)
    centres, targets = data.skipgram_pairs(contexts, tf.constant(IDS))
    expected = [(2, 3), (2, 4),
                (3, 2), (3, 4), (3, 5),
                (4, 2), (4, 3), (4, 5),
                (5, 3), (5, 4),
                (6, 7),
                (7, 6)]
    assert list(zip(centres.numpy().tolist(), targets.numpy().tolist())) == expected


def test_per_centre_windows_limit_the_pairs():
    """Effective windows (1, 2, 1, 2, 1, 1): only centres 3 and 5 reach two words away."""
    contexts = data.context_windows(IDS, SENTENCES, [1, 2, 1, 2, 1, 1], max_window=2)
    np.testing.assert_array_equal(contexts.numpy(), [[0, 0, 3, 0],
                                                     [0, 2, 4, 5],
                                                     [0, 3, 5, 0],
                                                     [3, 4, 0, 0],
                                                     [0, 0, 7, 0],
                                                     [0, 6, 0, 0]])
    centres, targets = data.skipgram_pairs(contexts, tf.constant(IDS))
    assert list(zip(centres.numpy().tolist(), targets.numpy().tolist())) == [
        (2, 3), (3, 2), (3, 4), (3, 5), (4, 3), (4, 5), (5, 3), (5, 4), (6, 7), (7, 6)]


def test_cbow_examples_drop_centres_without_context():
    ids, sentences = np.array([2, 3, 4, 5], np.int32), np.array([0, 1, 1, 2], np.int32)
    contexts = data.context_windows(ids, sentences, np.full(4, 1), max_window=1)
    windows, centres = data.cbow_examples(contexts, tf.constant(ids))
    np.testing.assert_array_equal(windows.numpy(), [[0, 4], [3, 0]])
    np.testing.assert_array_equal(centres.numpy(), [3, 4])


def _toy_corpus():
    sentences = [["a", "b", "c", "d", "e", "f"] * 3, ["c", "a", "f", "b"]] * 20
    vocab = data.build_vocabulary(sentences, min_count=1)
    return vocab, vocab.encode(sentences)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_dataset_yields_true_word_first_then_negatives(mode):
    vocab, encoded = _toy_corpus()
    ds = data.word2vec_dataset(encoded, vocab, mode=mode, window=2, num_negatives=3,
                               batch_size=16, sample=0, seed=5)
    (inputs, candidates), labels = next(iter(ds))
    assert inputs.shape == ((16, 1) if mode == "skipgram" else (16, 4))
    assert candidates.shape == (16, 4) and candidates.dtype == tf.int32
    np.testing.assert_array_equal(labels.numpy(), np.tile([1.0, 0, 0, 0], (16, 1)))
    assert (candidates.numpy() >= 2).all() and (candidates.numpy() < len(vocab)).all()
    # every (inputs, true word) is a real co-occurrence within the window
    contexts = data.context_windows(*data.flatten_corpus(encoded), np.full(
        sum(map(len, encoded)), 2), max_window=2).numpy()
    ids = np.concatenate(encoded)
    if mode == "skipgram":
        real = {(c, t) for c, row in zip(ids, contexts) for t in row if t}
        assert all((x[0], t) in real for x, t in zip(inputs.numpy(), candidates.numpy()[:, 0]))
    else:
        # a dynamic window of 1 keeps the two inner columns (offsets -1, +1) of the 2-window
        real = {(tuple(row * keep), c) for c, row in zip(ids, contexts)
                for keep in (np.array([1, 1, 1, 1]), np.array([0, 1, 1, 0]))}
        assert all((tuple(x), t) in real for x, t in zip(inputs.numpy(), candidates.numpy()[:, 0]))


def test_dataset_redraws_each_pass_and_is_seeded():
    vocab, encoded = _toy_corpus()

    def first_batch(ds):
        (x, c), _ = next(iter(ds))
        return np.concatenate([x.numpy(), c.numpy()], axis=1)

    ds = data.word2vec_dataset(encoded, vocab, batch_size=32, seed=1)
    again = data.word2vec_dataset(encoded, vocab, batch_size=32, seed=1)
    np.testing.assert_array_equal(first_batch(ds), first_batch(again))
    assert not np.array_equal(first_batch(ds), first_batch(ds))  # a second pass draws anew
    repeated = iter(data.word2vec_dataset(encoded, vocab, batch_size=32, seed=1).repeat(2))
    assert len(list(repeated)) > 0


def test_dataset_rejects_bad_arguments():
    vocab, encoded = _toy_corpus()
    with pytest.raises(ValueError, match="mode must be one of"):
        data.word2vec_dataset(encoded, vocab, mode="glove")
    with pytest.raises(ValueError, match="vocabulary word ids"):
        data.word2vec_dataset([np.array([2, 99], np.int32)], vocab)
    with pytest.raises(ValueError, match="empty"):
        data.word2vec_dataset([np.array([], np.int32)], vocab)


# ----------------------------------------------------------------------------------- models
def _random_weights(model, rng):
    for layer in ("word_embedding", "context_embedding"):
        table = model.get_layer(layer)
        table.embeddings.assign(rng.normal(size=table.embeddings.shape).astype("float32"))
    return (model.get_layer("word_embedding").embeddings.numpy(),
            model.get_layer("context_embedding").embeddings.numpy())


def test_skipgram_logits_are_dot_products_of_the_two_tables():
    rng = np.random.default_rng(0)
    model = kerasdl.create_model("skipgram", vocab_size=20, embedding_dim=6, num_negatives=4)
    words, contexts = _random_weights(model, rng)
    word = rng.integers(2, 20, (8, 1)).astype("int32")
    candidates = rng.integers(2, 20, (8, 5)).astype("int32")
    expected = np.einsum("bd,bkd->bk", words[word[:, 0]], contexts[candidates])
    np.testing.assert_allclose(model((word, candidates)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(model.word_vectors(), words)


def test_cbow_averages_the_unpadded_context():
    rng = np.random.default_rng(1)
    model = kerasdl.create_model("cbow", vocab_size=20, embedding_dim=6, num_negatives=2, window=2)
    words, contexts = _random_weights(model, rng)
    context = np.array([[3, 4, 5, 6], [0, 7, 8, 0], [0, 0, 9, 0]], "int32")
    candidates = rng.integers(2, 20, (3, 3)).astype("int32")
    means = np.stack([words[row[row > 0]].mean(axis=0) for row in context])
    expected = np.einsum("bd,bkd->bk", means, contexts[candidates])
    np.testing.assert_allclose(model((context, candidates)), expected, rtol=1e-5, atol=1e-5)


def test_initialisation_follows_word2vec_c():
    model = kerasdl.create_model("skipgram", vocab_size=500, embedding_dim=10, num_negatives=2)
    words = model.word_vectors()
    assert np.abs(words).max() <= 0.05 and words.std() > 0.02  # uniform in +-0.5/dim
    assert not model.get_layer("context_embedding").embeddings.numpy().any()


def test_bad_hyperparameters_name_the_problem():
    with pytest.raises(ValueError, match="num_negatives"):
        kerasdl.create_model("skipgram", vocab_size=20, num_negatives=0)
    with pytest.raises(ValueError, match="vocab_size"):
        kerasdl.create_model("cbow", vocab_size=2)
    with pytest.raises(ValueError, match="window"):
        kerasdl.create_model("cbow", vocab_size=20, window=0)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_training_puts_co_occurring_words_together(mode):
    """Two topics that never share a sentence: after training, each word's nearest neighbours
    are the other words of its own topic."""
    rng = np.random.default_rng(2)
    topics = [[f"a{i}" for i in range(5)], [f"b{i}" for i in range(5)]]
    sentences = [list(rng.choice(topics[i % 2], 12)) for i in range(300)]
    vocab = data.build_vocabulary(sentences, min_count=1)
    ds = data.word2vec_dataset(vocab.encode(sentences), vocab, mode=mode, window=2,
                               num_negatives=3, batch_size=64, sample=0, seed=0)
    keras.utils.set_random_seed(0)
    model = kerasdl.create_model(mode, vocab_size=len(vocab), embedding_dim=16, num_negatives=3,
                                 **({"window": 2} if mode == "cbow" else {}))
    model.compile(keras.optimizers.Adam(0.02), keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(ds.repeat(), steps_per_epoch=150, epochs=1, shuffle=False, verbose=0)
    vectors = WordVectors(model.word_vectors(), vocab.words)
    for topic in topics:
        for word in topic:
            assert {w for w, _ in vectors.nearest(word, 4)} == set(topic) - {word}, word


# ------------------------------------------------------------------------------- evaluation
def _hand_vectors():
    """2-d vectors: for man:woman::king:?, the query direction woman - man + king (unit vectors)
    is (-0.29, 1.71); cosines: [UNK] 1.0 > woman 0.986 > queen 0.932 > king 0.577 > apple."""
    words = ["", "[UNK]", "man", "woman", "king", "queen", "apple"]
    vectors = np.array([[0, 0], [-0.2929, 1.7071], [1, 0], [0, 1], [1, 1], [-0.6, 1], [1, -3]])
    return WordVectors(vectors, words), words


def test_analogy_3cosadd_excludes_the_query_words():
    vectors, _ = _hand_vectors()
    # [UNK] (reserved) and woman (a query word) score higher than queen
    assert [w for w, _ in vectors.analogy("man", "woman", "king", k=2)] == ["queen", "apple"]
    assert vectors.nearest("man", 2)[0][0] == "king"  # itself and the reserved rows left out
    with pytest.raises(KeyError, match="'prince' is not in the vocabulary"):
        vectors.analogy("man", "woman", "prince")


def test_evaluate_analogies_counts_coverage_and_sections():
    vectors, _ = _hand_vectors()
    questions = {"family": [("man", "woman", "king", "queen"),   # right
                            ("man", "woman", "king", "apple"),   # wrong
                            ("man", "woman", "prince", "princess")],  # not covered
                 "gram1-adjective-to-adverb": [("woman", "man", "queen", "king")]}
    result = vectors.evaluate_analogies(questions)
    assert result["sections"]["family"] == {"correct": 1, "covered": 2, "total": 3, "accuracy": 0.5}
    assert result["semantic"]["coverage"] == pytest.approx(2 / 3)
    assert result["syntactic"]["covered"] == 1
    assert result["all"]["total"] == 4 and result["all"]["covered"] == 3
    # woman:man::queen:? -> apple (cos 0.571) beats king (0.479) here: a wrong answer
    assert result["syntactic"]["correct"] == 0 and result["syntactic"]["accuracy"] == 0.0
    assert result["all"]["correct"] == 1 and result["all"]["accuracy"] == pytest.approx(1 / 3)


def test_evaluation_agrees_with_gensim(tmp_path):
    """Same vectors: our analogy accuracy and WordSim Spearman equal gensim's own evaluators."""
    keyed = pytest.importorskip("gensim.models").KeyedVectors
    rng = np.random.default_rng(3)
    words = [f"w{i}" for i in range(60)]
    vectors = rng.normal(size=(60, 3)).astype("float32")
    kv = keyed(3)
    kv.add_vectors(words, vectors)
    questions = [tuple(rng.choice(words, 4, replace=False)) for _ in range(400)]
    path = tmp_path / "questions.txt"
    path.write_text(": family\n" + "\n".join(" ".join(q) for q in questions[:200]) +
                    "\n: gram2-opposite\n" + "\n".join(" ".join(q) for q in questions[200:]) + "\n")
    theirs, sections = kv.evaluate_word_analogies(str(path))
    ours = WordVectors(vectors, words).evaluate_analogies(
        {"family": questions[:200], "gram2-opposite": questions[200:]})
    assert ours["all"]["correct"] == len(sections[-1]["correct"]) > 0
    assert ours["all"]["accuracy"] == pytest.approx(theirs)

    pairs_path = tmp_path / "pairs.tsv"
    pairs = [(*rng.choice(words, 2, replace=False), float(rng.uniform(0, 10))) for _ in range(50)]
    pairs_path.write_text("# word1\tword2\tscore\n"
                          + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in pairs))
    _, spearman, _ = kv.evaluate_word_pairs(str(pairs_path))
    similarity = WordVectors(vectors, words).evaluate_similarity(read_word_pairs(pairs_path))
    assert similarity["covered"] == 50
    assert similarity["spearman"] == pytest.approx(spearman.statistic, abs=1e-6)


# --------------------------------------------------------------------------------- pipeline
def test_word2vec_pipeline_fast(tmp_path):
    script = ROOT / "pipelines" / "word2vec.py"
    subprocess.run([sys.executable, str(script), "--fast", "--out-dir", str(tmp_path)], check=True,
                   capture_output=True, text=True)
    out = tmp_path / "word2vec_fast"
    results = json.loads((out / "results.json").read_text())
    vocabulary = (out / "vocabulary.txt").read_text().splitlines()
    assert len(vocabulary) == results["corpus"]["vocabulary"] + 2 and vocabulary[1] == "[UNK]"
    for mode in ("skipgram", "cbow"):
        row = results["models"][mode]
        for impl in ("kerasdl", "gensim"):
            analogy = row[impl]["analogy"]["all"]
            assert analogy["total"] == 19_544 and 0 < analogy["covered"] < analogy["total"]
        assert np.isfinite(row["kerasdl"]["final_loss"])
        table = np.loadtxt(out / f"{mode}_vectors.tsv", delimiter="\t")
        assert table.shape == (len(vocabulary) - 2, results["recipe"]["dim"])
        assert keras.models.load_model(out / f"{mode}.keras").count_params() == 2 * len(
            vocabulary) * results["recipe"]["dim"]
    assert (out / "metadata.tsv").read_text().splitlines() == vocabulary[2:]
