"""OCR: text-line data, CTC decoding and character/word error rates against hand computations."""
import numpy as np
import pytest

from kerasdl.data import text_lines
from kerasdl.metrics.edit_distance import character_error_rate, edit_distances, word_error_rate


def levenshtein(a, b) -> int:
    """Textbook dynamic programme (Wagner-Fischer), independent of tf.edit_distance."""
    d = np.arange(len(b) + 1)
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return int(d[-1])


def test_edit_distance_hand_cases_and_dp():
    assert edit_distances(["kitten", "flaw", "", "abc"], ["sitting", "lawn", "ab", ""]).tolist() == [3, 2, 2, 3]
    rng = np.random.default_rng(0)
    refs = ["".join(rng.choice(list("abc "), rng.integers(0, 9))) for _ in range(40)]
    hyps = ["".join(rng.choice(list("abc "), rng.integers(0, 9))) for _ in range(40)]
    assert edit_distances(refs, hyps).tolist() == [levenshtein(r, h) for r, h in zip(refs, hyps)]
    words = edit_distances(refs, hyps, unit="word").tolist()
    assert words == [levenshtein(r.split(), h.split()) for r, h in zip(refs, hyps)]


def test_error_rates_are_corpus_ratios():
    refs, hyps = ["the cat sat on the mat", "hello"], ["the cat sat on mat", "hallo"]
    assert word_error_rate(refs, hyps) == pytest.approx(2 / 7)  # one deletion, one substitution
    assert character_error_rate(refs, hyps) == pytest.approx(5 / 27)  # "the " deleted (4) + e->a (1)
    with pytest.raises(ValueError, match="equally many"):
        character_error_rate(["a"], [])
    with pytest.raises(ValueError, match="unit"):
        edit_distances(["a"], ["a"], unit="byte")


def test_encode_decode_round_trip_and_errors():
    ids = text_lines.encode(["ab a", "b"], "ab ", 5)
    assert ids.tolist() == [[1, 2, 3, 1, 0], [2, 0, 0, 0, 0]]
    assert text_lines.decode(ids, "ab ") == ["ab a", "b"]
    with pytest.raises(ValueError, match="outside the charset"):
        text_lines.encode(["abc"], "ab", 5)
    with pytest.raises(ValueError, match="more than max_length"):
        text_lines.encode(["abab"], "ab", 3)


def test_pack_words_wraps_greedily():
    assert text_lines.pack_words("aa bb cc  dddddd e", 5) == ["aa bb", "cc e"]  # the 6-letter word is dropped


def test_austen_lines_render_and_hold_out_by_position():
    lines = text_lines.austen_lines("test", 6, width=256)
    assert lines.images.shape == (6, 32, 256, 1) and lines.images.max() > 0.5
    assert text_lines.decode(lines.labels, lines.charset) == lines.texts
    ink = lines.images[..., 0].sum(0).sum(0)
    assert ink[:3].sum() < ink.sum() * 0.05  # left-aligned with a margin, not cut off
    from kerasdl.data.text import austen

    train = set(text_lines.pack_words(austen("train"), 28))
    test = text_lines.pack_words(austen("test"), 28)
    assert sum(line in train for line in test) / len(test) < 0.01  # only stock phrases recur


def test_digit_strings_are_real_test_digits():
    from kerasdl.data.datasets import mnist10k

    strings = text_lines.digit_strings("test", 4, gaps=(0, 0), seed=3)
    digits, labels = mnist10k("test", as_numpy=True)
    digits = digits.reshape(-1, 28, 28).astype(np.float32)
    digits = digits / 255.0 if digits.max() > 1 else digits
    for image, text in zip(strings.images, strings.texts):
        for k, char in enumerate(text):
            crop = image[2:30, 2 + 28 * k:30 + 28 * k, 0]
            match = np.flatnonzero(np.abs(digits - crop).max((1, 2)) < 1e-6)
            assert len(match) and str(labels[match[0]]) == char
    with pytest.raises(ValueError, match="cannot hold"):
        text_lines.digit_strings("test", 1, lengths=(3, 9), width=192)


def test_ctc_decode_greedy_and_beam():
    from kerasdl.models.vision.crnn import ctc_decode

    path = [1, 1, 0, 2, 2, 0, 0, 1, 3]  # a a _ b b _ _ a <space>: merged -> "aba "
    logits = np.full((1, len(path), 4), -5.0, np.float32)
    logits[0, np.arange(len(path)), path] = 5.0
    assert ctc_decode(logits, "ab ") == ["aba "]
    assert ctc_decode(logits, "ab ", "beam_search", beam_width=4) == ["aba "]
    with pytest.raises(ValueError, match="charset"):
        ctc_decode(logits, "ab")


def test_beam_search_beats_best_path_when_paths_add_up():
    """Two frames, classes (blank, a): best path is blank-blank (p 0.36) but "a" has
    p(a_)+p(_a)+p(aa) = 0.24+0.24+0.16 = 0.64; beam search finds it, greedy does not."""
    from kerasdl.models.vision.crnn import ctc_decode

    logits = np.log(np.array([[[0.6, 0.4], [0.6, 0.4]]], np.float32))
    assert ctc_decode(logits, "a") == [""]
    assert ctc_decode(logits, "a", "beam_search", beam_width=4) == ["a"]


def test_crnn_shapes_and_errors():
    import kerasdl

    model = kerasdl.create_model("crnn", image_height=16, image_width=24, vocab_size=5, filters=(4, 4),
                                 rnn_units=4, num_rnn_layers=1)
    assert tuple(model.outputs[0].shape) == (None, 6, 6)  # T = W / 4, V + blank
    with pytest.raises(ValueError, match="divisible"):
        kerasdl.create_model("crnn", image_height=18, filters=(4, 4))


@pytest.mark.slow
def test_ocr_pipeline_fast(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "pipelines" / "ocr.py"), "--fast", "--data", "digits",
                    "--out", str(tmp_path / "ocr"), "--export-dir", str(tmp_path)], check=True, capture_output=True)
    row = json.loads((tmp_path / "ocr" / "results.json").read_text())["digits"]
    assert row["tflite_fp32"]["max_abs_error"] <= 1e-4 and 0 <= row["cer_greedy"]
    assert (tmp_path / "ocr" / "samples_digits.png").exists()
    assert (tmp_path / "crnn_digits" / "crnn_digits_fp32.tflite").exists()


def test_projection_profile_finds_every_composed_line():
    lines = text_lines.austen_lines("test", 5, seed=4)
    page, truth = text_lines.compose_page(lines, gap=4)
    boxes = text_lines.segment_lines(page, 32)
    assert len(boxes) == 5
    assert all(abs(b[0] - t[0]) <= 6 for b, t in zip(boxes, truth))  # jitter +-2 px plus glyph asymmetry
    with pytest.raises(ValueError, match="2-D"):
        text_lines.segment_lines(page[None], 32)
