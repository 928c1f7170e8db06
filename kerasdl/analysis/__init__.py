"""Model analysis: parameters, MACs/FLOPs, output sizes and receptive fields, layer by layer.

    from kerasdl.analysis import analyze
    report = analyze(model)          # a built functional or Sequential Keras model
    print(report.table()); report.save("report.json")

Names load lazily, so importing this package does not import TensorFlow.
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("analyze", "ModelReport", "LayerStats", "format_table"),
                    "kerasdl.analysis.report"),
    **dict.fromkeys(("Cost", "layer_cost", "activation_cost", "ACTIVATION_FLOPS"),
                    "kerasdl.analysis.flops"),
    **dict.fromkeys(("ReceptiveField", "layer_field", "conv_output_size"),
                    "kerasdl.analysis.receptive_field"),
    **dict.fromkeys(("ProfiledFlops", "profile_function", "profile_model"),
                    "kerasdl.analysis.profiler"),
    "walk": "kerasdl.analysis.graph",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
