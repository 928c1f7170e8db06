"""Model families. Importing this package registers every model with ``kerasdl.registry.MODELS``."""
from kerasdl.models import (  # noqa: F401
    audio, detection, generative, graph, meta, recommender, rl, segmentation, text, video)
from kerasdl.models.vision import (  # noqa: F401
    captioner, classic, crnn, darts_network, densenet, inception, mobilenet, pose, resnet,
    shufflenet, simple, squeezenet)
