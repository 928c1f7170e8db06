import numpy as np, keras, tensorflow as tf, kerasdl, time
from kerasdl.registry import MODELS
from kerasdl.export import convert, check_builtin_ops, parity
from kerasdl.detection.export import detection_module, convert_detector, run_tflite_detector
for name in ["rfcn"]:
    m = kerasdl.create_model(name, **MODELS.entry(name).info["small"])
    x = np.random.default_rng(0).random((4,32,32,1), dtype=np.float32)
    for bs in (1,):
        try:
            fb = convert(m, "fp32", batch_size=bs); print(name, bs, check_builtin_ops(fb)); print("parity", parity(m, fb, x))
        except Exception as e: print(name, bs, "FAIL", str(e)[:300])
    mod = detection_module(m, max_detections=5)
    try:
        fb = convert_detector(mod); got = run_tflite_detector(fb, x[:1]); ref = mod.detect(x[:1])
        print("detector", {k: np.abs(got[k]-ref[k].numpy()).max() for k in got})
    except Exception as e: print(name, "detector FAIL", str(e)[:300])
