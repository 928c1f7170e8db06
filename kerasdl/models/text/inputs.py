"""The one input every token model takes: int32 token ids of a fixed length (0 = padding)."""
from __future__ import annotations

import keras


def token_ids_input(sequence_length, name="token_ids"):
    """``keras.Input((sequence_length,), int32)``; ``None`` accepts any length."""
    if sequence_length is not None and int(sequence_length) < 1:
        raise ValueError(f"sequence_length must be a positive integer, got {sequence_length}")
    length = None if sequence_length is None else int(sequence_length)
    return keras.Input((length,), dtype="int32", name=name)
