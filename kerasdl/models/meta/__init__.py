"""Meta-learning networks: the Conv-4 few-shot embedding."""
from kerasdl.models.meta import conv4  # noqa: F401
