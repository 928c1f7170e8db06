"""Captioning canvases, the Show-Attend-Tell captioner's attention and its decoding adapter."""
import numpy as np
import pytest

from kerasdl.data import caption_canvases as cc


def test_descriptions_read_the_row_both_ways():
    assert cc.describe(["shirt", "sneaker"]) == ["a shirt left of a sneaker", "a sneaker right of a shirt"]
    assert cc.describe(["bag", "coat", "dress"])[1] == "a dress right of a coat right of a bag"
    assert cc.max_caption_length(3) == len("a bag left of a coat left of a dress".split()) + 1
    with pytest.raises(ValueError, match="at least 2"):
        cc.describe(["bag"])


def test_canvases_hold_the_named_objects_left_to_right():
    data = cc.caption_canvases("test", 6, seed=2)
    assert data.images.shape == (6, 32, 96, 1)
    names = cc.SOURCES["fashion"]
    for image, refs, classes in zip(data.images, data.references, data.classes):
        assert 2 <= len(classes) <= 3 and refs == cc.describe([names[c] for c in classes])
        slot = 96 // len(classes)
        ink = image[..., 0].sum(0)
        assert all(ink[j * slot:(j + 1) * slot].sum() > 5 for j in range(len(classes)))  # one object per slot
    ids = data.encode([r[0] for r in data.references], 11)
    assert data.decode(ids) == [r[0] for r in data.references]
    with pytest.raises(ValueError, match="cannot hold"):
        cc.caption_canvases("test", 1, width=64)


@pytest.fixture(scope="module")
def captioner():
    import kerasdl

    return kerasdl.create_model("show_attend_tell", image_height=16, image_width=32, vocab_size=9,
                                caption_length=5, filters=(4, 4), embedding_dim=8, units=8, dropout=0.0)


def test_attention_is_a_distribution_over_the_grid(captioner):
    from kerasdl.models.vision.captioner import attention_grid, attention_model

    rng = np.random.default_rng(0)
    images, ids = rng.random((3, 16, 32, 1), dtype=np.float32), rng.integers(1, 9, (3, 5)).astype("int32")
    logits, alpha = attention_model(captioner)((images, ids))
    assert attention_grid(captioner) == (4, 8) and alpha.shape == (3, 5, 32)
    np.testing.assert_allclose(np.asarray(alpha).sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(logits, captioner((images, ids)), atol=1e-6)


def test_decoding_adapter_matches_the_full_forward_pass(captioner):
    from kerasdl.models.text.decoding import beam_search, greedy_decode
    from kerasdl.models.vision.captioner import caption_ids, next_token_logits

    rng = np.random.default_rng(1)
    images = rng.random((4, 16, 32, 1), dtype=np.float32)
    prefix = np.array([[1, 3], [1, 4], [1, 5], [1, 6]], np.int32)
    padded = np.zeros((4, 5), np.int32)
    padded[:, :2] = prefix
    got = next_token_logits(captioner, images)(np.arange(4)[:, None], prefix)
    np.testing.assert_allclose(got, np.asarray(captioner((images, padded)))[:, 1], atol=1e-5)
    fn, sources = next_token_logits(captioner, images), np.arange(4, dtype=np.int32)[:, None]
    greedy = greedy_decode(fn, sources, bos_id=1, eos_id=2, max_length=5)
    beam1 = beam_search(fn, sources, bos_id=1, eos_id=2, max_length=5, beam_width=1, alpha=0.0)
    assert greedy.sequences(2) == beam1.sequences(2) == caption_ids(captioner, images, bos_id=1, eos_id=2)


@pytest.mark.slow
def test_captioning_pipeline_fast(tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, str(root / "pipelines" / "captioning.py"), "--fast", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    row = json.loads((tmp_path / "results.json").read_text())
    assert set(row["beam"]) >= {"bleu1", "bleu4", "meteor", "rouge_l", "cider_d", "exact_match"}
    assert (tmp_path / "attention.png").stat().st_size > 1000
