"""Recommender and CTR models on libFM-style field inputs (:mod:`kerasdl.data.movielens_features`):
matrix factorisation, FM, FFM, Wide & Deep, DeepFM, DCN (v1/v2), DIN and two-tower retrieval."""
from kerasdl.models.recommender import deep_ctr, din, factorization, two_tower  # noqa: F401
