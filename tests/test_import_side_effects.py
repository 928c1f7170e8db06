"""Importing kerasdl's model modules must not draw from the global RNGs: the registry imports
them lazily, after ``keras.utils.set_random_seed``, so a draw at import time (e.g. a module-level
unseeded initializer) would silently change every model's initial weights."""
import subprocess
import sys

CHECK = """
import random
import keras
import numpy as np
keras.utils.set_random_seed(0)
before = (random.getstate(), np.random.get_state()[1].tobytes())
import kerasdl.models  # every registered model module
after = (random.getstate(), np.random.get_state()[1].tobytes())
print("same" if before == after else "changed")
"""


def test_importing_the_models_leaves_the_global_rngs_alone():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "same"
