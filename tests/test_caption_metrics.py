"""Caption metrics against reference implementations (pycocoevalcap's CIDEr-D and ROUGE-L, nltk's
METEOR with stemming and synonyms off, sacrebleu's own sentence BLEU) and hand-computed cases."""
import math

import numpy as np
import pytest

from kerasdl.metrics import captioning

HYPS = ["a shirt left of a sneaker", "a bag left of a coat", "a dress right of a boot",
        "a sneaker left of a sneaker left of a bag", "a coat"]
REFS = [["a shirt left of a sneaker", "a sneaker right of a shirt"],
        ["a bag left of a dress", "a dress right of a bag"],
        ["a boot left of a dress", "a dress right of a boot"],
        ["a sandal left of a sneaker left of a bag", "a bag right of a sneaker right of a sandal"],
        ["a coat left of a trouser", "a trouser right of a coat"]]


def _coco(scorer):
    gts = {i: refs for i, refs in enumerate(REFS)}
    res = {i: [h] for i, h in enumerate(HYPS)}
    return scorer.compute_score(gts, res)[0]


def test_cider_d_matches_pycocoevalcap():
    from pycocoevalcap.cider.cider import Cider

    assert captioning.cider_d(HYPS, REFS) == pytest.approx(_coco(Cider()), rel=1e-9)


def test_rouge_l_matches_pycocoevalcap_and_hand_value():
    from pycocoevalcap.rouge.rouge import Rouge

    assert captioning.rouge_l(HYPS, REFS) == pytest.approx(_coco(Rouge()), rel=1e-12)
    # "a coat" vs "a coat left of a trouser": LCS 2, P = 1, R = 2/6; beta 1.2
    p, r = 1.0, 2 / 6
    assert captioning.rouge_l(["a coat"], [["a coat left of a trouser"]]) == pytest.approx(
        (1 + 1.44) * p * r / (r + 1.44 * p))


def test_meteor_matches_nltk_exact_match():
    from nltk.stem.api import StemmerI
    from nltk.translate.meteor_score import meteor_score

    class Identity(StemmerI):
        def stem(self, token):
            return token

    class NoSynonyms:
        @staticmethod
        def synsets(*args, **kwargs):
            return []

    expected = np.mean([meteor_score([r.split() for r in refs], h.split(), stemmer=Identity(), wordnet=NoSynonyms())
                        for h, refs in zip(HYPS, REFS)])
    assert captioning.meteor(HYPS, REFS) == pytest.approx(expected, rel=1e-12)
    # hand: identical 6-word sentence -> P = R = 1, one chunk: 1 - 0.5 (1/6)^3
    assert captioning.meteor([HYPS[0]], [[HYPS[0]]]) == pytest.approx(1 - 0.5 / 216)


def test_bleu_orders_and_hand_value():
    import sacrebleu

    perfect = captioning.bleu(["a shirt left of a sneaker"], [["a shirt left of a sneaker"]])
    assert perfect == pytest.approx(1.0)
    # unigram BLEU of "a coat" vs "a coat left of a trouser": precision 1, brevity exp(1 - 6/2)
    assert captioning.bleu(["a coat"], [["a coat left of a trouser"]], 1) == pytest.approx(math.exp(-2), rel=1e-6)
    # uneven reference counts: a repeated reference changes nothing
    ours = captioning.bleu(HYPS[:2], [REFS[0], REFS[1][:1]])
    theirs = sacrebleu.corpus_bleu(HYPS[:2], [[REFS[0][0], REFS[1][0]], [REFS[0][1], REFS[1][0]]]).score / 100
    assert ours == pytest.approx(theirs)
    scores = captioning.caption_scores(HYPS, REFS)
    assert scores["bleu1"] >= scores["bleu2"] >= scores["bleu3"] >= scores["bleu4"] > 0


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="one reference list per hypothesis"):
        captioning.cider_d(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError, match="at least one reference"):
        captioning.meteor(["a"], [[]])
