"""Graph models: knowledge-graph link prediction (DistMult, R-GCN) and PinSage recommendation."""
from kerasdl.models.graph import knowledge_graph, pinsage  # noqa: F401
