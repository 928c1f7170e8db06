"""AutoML: hyper-parameter search with KerasTuner (``tuning``) and neural architecture search over
a DARTS cell space (``cell_space``, ``supernet``, ``darts``, ``one_shot``, ``evolution``);
``search_space`` turns a JSON space into KerasTuner hyperparameters.

Names load lazily, so importing this package does not import TensorFlow.
"""
from kerasdl.lazy import lazy_exports

_EXPORTS = {
    **dict.fromkeys(("SearchSpace", "SearchSpaceError"), "kerasdl.automl.search_space"),
    **dict.fromkeys(("TuningRecipe", "tune"), "kerasdl.automl.tuning"),
    **dict.fromkeys(("Genotype", "DARTS_V2", "derive_genotype", "random_genotype", "mutate"),
                    "kerasdl.automl.cell_space"),
    "Supernet": "kerasdl.automl.supernet",
    "DartsTrainer": "kerasdl.automl.darts",
    **dict.fromkeys(("OneShotTrainer", "InheritedAccuracy", "rank_architectures"),
                    "kerasdl.automl.one_shot"),
    "RegularizedEvolution": "kerasdl.automl.evolution",
    **dict.fromkeys(("CellTrainingRecipe", "train_cell"), "kerasdl.automl.cell_training"),
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
