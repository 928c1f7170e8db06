#!/usr/bin/env python
"""word2vec on Jane Austen: skip-gram and CBOW with negative sampling (kerasdl, the Trainer) side
by side with gensim's Word2Vec on the same tokens and hyper-parameters.

Command:  python pipelines/word2vec.py                   (both modes, 5 epochs each)
          python pipelines/word2vec.py --modes skipgram --epochs 10
          python pipelines/word2vec.py --fast --out-dir /tmp/w2v   (CI smoke run: a few steps)
Data:     all six Austen novels (kerasdl.data.text.austen_books(): 729k words, 10,288 paragraphs
          = "sentences"), text8-style tokens (lowercase a-z runs); min_count 5 -> 5,761 words.
          Evaluation: Mikolov's questions-words.txt analogies (3CosAdd, the three query words
          excluded) on the questions whose four words are in the vocabulary (coverage reported);
          WordSim-353 Spearman (gensim's wordsim353.tsv); cosine nearest neighbours.
Recipe:   gensim's defaults for both: dim 100, window 5 (dynamic: 1..5 per centre), 5 negatives
          from unigram^0.75, subsampling t=1e-3 (keep sqrt(t/f)+t/f), 5 epochs, linear LR decay.
          kerasdl: batch 1024, plain SGD on the mean loss, LR 400 -> 1.6 (a per-pair step of
          400/(1024*6) = 0.065 on the summed loss; gensim: alpha 0.025 -> 1e-4, one pair at a time).
          SGD, not Adam: Adam updates the whole 2x5,763x100 tables every step (3x slower here) and
          reached 4.7% analogy accuracy after one epoch vs SGD's 3.4%, but SGD's 5 epochs cost
          what Adam's 1.7 do. XLA on (the Trainer's CPU trial, Adam variant: 31 vs 58 ms/step).
          gensim: 2 worker threads, seed 0 (threads make its runs vary by ~1 point).
Output:   saved_models/word2vec/ (saved_models/word2vec_fast/ with --fast): results.json (corpus,
          recipe, per model: train time, final loss, analogy accuracy per section and coverage,
          WordSim-353, neighbours; kerasdl vs gensim), <mode>.keras, <mode>_vectors.tsv +
          metadata.tsv (load both in projector.tensorflow.org), vocabulary.txt (line i = id i).
Hardware: 2-core AMD EPYC (AVX2), no GPU, shared with other jobs.
Last run: 2026-11-23, 6.2 min wall (machine shared, load ~7 on 2 cores). Analogies (3CosAdd) on
          the 2,525 of 19,544 questions inside the vocabulary (coverage 12.9%: semantic 182/8,869,
          syntactic 2,343/10,675) and WordSim-353 Spearman on its 76 covered pairs (of 353):
                     analogy all      semantic  syntactic  WordSim  train
          skipgram   kerasdl  8.36%   29.1%     6.74%      0.203    135 s (9.0 ms/step)
                     gensim   9.43%   41.8%     6.91%      0.113     76 s
          cbow       kerasdl  7.41%   29.1%     5.72%      0.082     64 s (24.8 ms/step)
                     gensim   5.66%   27.5%     3.97%      0.043     17 s
          (an earlier gensim run with the same settings: skipgram 8.12%, cbow 5.70%). A small
          corpus: low accuracies for both, as expected; neighbours are sensible (sister -> brother,
          mother, father; letter -> note, written, letters; walk:walked::go -> went).
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kerasdl.arguments import choose  # noqa: E402
from kerasdl.io import atomic_write_json, atomic_write_text  # noqa: E402

MODES = ("skipgram", "cbow")
PROBE_WORDS = ("elizabeth", "sister", "father", "happy", "letter", "walked", "money", "morning",
               "carriage", "ball")
PROBE_ANALOGIES = (("brother", "sister", "father"), ("he", "she", "his"), ("walk", "walked", "go"),
                   ("good", "better", "bad"), ("mr", "mrs", "sir"))


def load_corpus(fast: bool) -> list[list[str]]:
    from kerasdl.data import text, word2vec

    books = text.austen_books()
    if fast:  # the first novel's first 40k characters
        books = {title: body[:40_000] for title, body in sorted(books.items())[:1]}
    return [s for _, body in sorted(books.items()) for s in word2vec.tokenize(body)]


def train_kerasdl(mode, encoded, vocabulary, args, out_dir: Path):
    """Train one kerasdl model with the Trainer; returns (WordVectors, training facts)."""
    import keras

    import kerasdl
    from kerasdl.data import word2vec as data
    from kerasdl.analysis.word_vectors import WordVectors
    from kerasdl.train import Trainer

    dataset = data.word2vec_dataset(encoded, vocabulary, mode=mode, window=args.window,
                                    num_negatives=args.negatives, sample=args.sample,
                                    batch_size=args.batch_size, seed=args.seed)
    steps = max(1, int(data.expected_examples(encoded, vocabulary, mode=mode, window=args.window,
                                              sample=args.sample) // args.batch_size))
    if args.fast:
        steps = min(steps, 20)
    total = steps * args.epochs
    schedule = keras.optimizers.schedules.PolynomialDecay(args.learning_rate, total,
                                                          args.learning_rate * 0.004)
    keras.utils.set_random_seed(args.seed)
    hyper = {"vocab_size": len(vocabulary), "embedding_dim": args.dim,
             "num_negatives": args.negatives, **({"window": args.window} if mode == "cbow" else {})}
    model = kerasdl.create_model(mode, **hyper)
    with Trainer(model, keras.losses.BinaryCrossentropy(from_logits=True),
                 keras.optimizers.SGD(schedule),
                 metrics=[keras.metrics.BinaryAccuracy(threshold=0.0)], jit_compile=True,
                 steps_per_execution=min(20, steps), verbose=2) as trainer:
        start = time.perf_counter()
        history = trainer.fit(dataset, epochs=args.epochs, steps_per_epoch=steps)
        seconds = time.perf_counter() - start
    model.save(out_dir / f"{mode}.keras")
    facts = {"train_seconds": round(seconds, 1), "steps": total, "steps_per_epoch": steps,
             "final_loss": history.epochs[-1]["loss"], "hyperparameters": hyper,
             "ms_per_step": round(1000 * sum(trainer.epoch_seconds) / total, 2)}
    return WordVectors(model.word_vectors(), vocabulary.words), facts


def train_gensim(mode, sentences, args):
    """gensim's Word2Vec on the same tokens and hyper-parameters; returns (WordVectors, facts)."""
    from gensim.models import Word2Vec

    from kerasdl.analysis.word_vectors import WordVectors

    start = time.perf_counter()
    model = Word2Vec(sentences, vector_size=args.dim, window=args.window, min_count=args.min_count,
                     sample=args.sample, negative=args.negatives, sg=int(mode == "skipgram"),
                     epochs=args.epochs, workers=2, seed=args.seed)
    seconds = time.perf_counter() - start
    return WordVectors(model.wv.vectors, model.wv.index_to_key), {
        "train_seconds": round(seconds, 1), "vocabulary": len(model.wv),
        "gensim_own_analogy_accuracy": model.wv.evaluate_word_analogies(
            str(_questions_path()))[0]}


def _questions_path():
    from kerasdl.data import text

    return text.questions_words_path()


def evaluate(vectors, questions, word_pairs) -> dict:
    analogies = vectors.evaluate_analogies(questions)
    return {
        "analogy": {k: analogies[k] for k in ("all", "semantic", "syntactic")},
        "analogy_sections": {name: f"{s['correct']}/{s['covered']} (of {s['total']})"
                             for name, s in analogies["sections"].items()},
        "wordsim353": vectors.evaluate_similarity(word_pairs),
        "neighbours": {w: [n for n, _ in vectors.nearest(w, 8)]
                       for w in PROBE_WORDS if w in vectors},
        "analogies": {f"{a}:{b}::{c}:?": [n for n, _ in vectors.analogy(a, b, c, 3)]
                      for a, b, c in PROBE_ANALOGIES if all(w in vectors for w in (a, b, c))},
    }


def write_vectors(out_dir: Path, mode: str, vectors, words) -> None:
    """TensorFlow-projector files: <mode>_vectors.tsv and metadata.tsv (reserved ids left out)."""
    rows = ["\t".join(f"{x:.5f}" for x in v) for v in vectors[2:]]
    atomic_write_text(out_dir / f"{mode}_vectors.tsv", "\n".join(rows) + "\n")
    atomic_write_text(out_dir / "metadata.tsv", "\n".join(words[2:]) + "\n")


def _accuracy(result) -> str:
    a = result["analogy"]["all"]
    return f"{100 * (a['accuracy'] or 0):5.2f}% ({a['correct']}/{a['covered']})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated: skipgram,cbow")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3, help="subsampling threshold t")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--learning-rate", type=float, default=400.0,
                        help="SGD learning rate on the mean loss (decays linearly to 0.4%%)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fast", action="store_true", help="tiny corpus, a few steps (CI)")
    parser.add_argument("--no-gensim", action="store_true", help="skip the gensim comparison")
    parser.add_argument("--out-dir", default="saved_models")
    args = parser.parse_args(argv)
    modes = choose(parser, "--modes", args.modes, MODES)
    if args.fast:
        args.epochs, args.dim, args.min_count, args.batch_size = 1, 16, 2, 128

    from gensim.test.utils import datapath

    from kerasdl.data import text
    from kerasdl.data import word2vec as data
    from kerasdl.analysis.word_vectors import read_word_pairs

    out_dir = Path(args.out_dir) / ("word2vec_fast" if args.fast else "word2vec")
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sentences = load_corpus(args.fast)
    vocabulary = data.build_vocabulary(sentences, args.min_count)
    encoded = vocabulary.encode(sentences)
    questions = text.analogy_questions()
    word_pairs = read_word_pairs(datapath("wordsim353.tsv"))
    atomic_write_text(out_dir / "vocabulary.txt", "\n".join(vocabulary.words) + "\n")
    results = {
        "command": " ".join(["python", "pipelines/word2vec.py", *(argv if argv is not None
                                                                  else sys.argv[1:])]),
        "corpus": {"sentences": len(sentences), "tokens": sum(map(len, sentences)),
                   "in_vocabulary_tokens": int(sum(map(len, encoded))),
                   "vocabulary": len(vocabulary) - 2, "min_count": args.min_count},
        "recipe": {k: getattr(args, k) for k in ("epochs", "dim", "window", "negatives", "sample",
                                                 "batch_size", "learning_rate", "seed")},
        "models": {},
    }
    for mode in modes:
        print(f"== {mode}: kerasdl", flush=True)
        vectors, facts = train_kerasdl(mode, encoded, vocabulary, args, out_dir)
        write_vectors(out_dir, mode, vectors.unit, vocabulary.words)
        row = {"kerasdl": {**facts, **evaluate(vectors, questions, word_pairs)}}
        if not args.no_gensim:
            print(f"== {mode}: gensim", flush=True)
            gensim_vectors, gensim_facts = train_gensim(mode, sentences, args)
            row["gensim"] = {**gensim_facts, **evaluate(gensim_vectors, questions, word_pairs)}
        results["models"][mode] = row
        atomic_write_json(out_dir / "results.json", results)
    results["wall_minutes"] = round((time.perf_counter() - start) / 60, 2)
    atomic_write_json(out_dir / "results.json", results)

    print(f"corpus: {results['corpus']}")
    for mode, row in results["models"].items():
        for impl, r in row.items():
            ws = r["wordsim353"]
            print(f"{mode:8s} {impl:7s} analogy {_accuracy(r)}, coverage "
                  f"{100 * r['analogy']['all']['coverage']:.1f}%; WordSim-353 rho "
                  f"{ws['spearman'] if ws['spearman'] is None else round(ws['spearman'], 3)} "
                  f"({ws['covered']}/{ws['total']} pairs); {r['train_seconds']} s")
        for word in list(row["kerasdl"]["neighbours"])[:5]:
            print(f"  {word}: " + " | ".join(", ".join(r["neighbours"][word][:5])
                                            for r in row.values()))
    print(f"wrote {out_dir} in {results['wall_minutes']} min")


if __name__ == "__main__":
    main()
