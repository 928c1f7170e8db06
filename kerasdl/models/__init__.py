"""Model families. Importing this package registers every model with ``kerasdl.registry.MODELS``."""
from kerasdl.models import generative, graph, meta, rl, text  # noqa: F401
from kerasdl.models.vision import (  # noqa: F401
    classic, darts_network, densenet, inception, mobilenet, resnet, shufflenet, simple, squeezenet)
from kerasdl.models import audio  # noqa: F401
from kerasdl.models import recommender  # noqa: F401
from kerasdl.models.vision import captioner, crnn  # noqa: F401,E402
from kerasdl.models import detection  # noqa: F401,E402
from kerasdl.models.vision import pose  # noqa: F401,E402
