"""Model families. Importing this package registers every model with ``kerasdl.registry.MODELS``."""
from kerasdl.models.vision import simple  # noqa: F401
