"""Audio models: raw 16 kHz waveforms in (the log-mel front end is inside the model), keyword
logits (kws.py) or per-frame CTC logits (ctc.py) out."""
from kerasdl.models.audio import ctc, kws  # noqa: F401
