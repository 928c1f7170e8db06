"""Model families. Importing this package registers every model with ``kerasdl.registry.MODELS``."""
from kerasdl.models import generative, graph, meta, rl, text  # noqa: F401
from kerasdl.models.vision import (  # noqa: F401
    classic, darts_network, densenet, inception, mobilenet, resnet, shufflenet, simple, squeezenet)
from kerasdl.models import segmentation  # noqa: F401,E402
