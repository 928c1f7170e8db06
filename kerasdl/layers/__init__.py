"""Reusable subclassed Keras layers, grouped by kind (conv.py, blocks.py, attention.py, ...)."""
from kerasdl.layers.conv import ConvBNAct  # noqa: F401
