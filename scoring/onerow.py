"""One row through a LightGBM booster with one C call: ``Booster.predict`` builds a predictor
object, deep-copies its parameters and makes two more C calls (the current iteration, the output
size) before the prediction, each releasing and taking back the GIL (a chance for another thread,
the audit writer, to take it). This makes the same prediction call (``LGBM_BoosterPredictForMat``
with the parameters and iterations of ``Booster.predict(x, num_threads=1)``), so the numbers are
identical; the booster's handle is only read, as ``Booster.predict`` does."""

from __future__ import annotations

import ctypes

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _safe_call

_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_ROW_MAJOR = 1  # C_API_IS_ROW_MAJOR
_NORMAL, _CONTRIB = 0, 3  # C_API_PREDICT_NORMAL, C_API_PREDICT_CONTRIB
_PARAMETERS = ctypes.c_char_p(b"num_threads=1")


def fits(booster: lgb.Booster) -> bool:
    """One output per row (binary or regression): what ``OneRow`` serves."""
    return booster.num_model_per_iteration() == 1


class OneRow:
    """The probability and the exact SHAP values of one model-ready row."""

    def __init__(self, booster: lgb.Booster) -> None:
        if not fits(booster):
            raise ValueError("OneRow serves a booster with one output per row")
        self._booster = booster  # keeps the handle alive
        self._handle = booster._handle
        self._width = booster.num_feature()
        # Booster.predict's iterations when none is given: its best one (-1 or 0: all)
        self._iterations = ctypes.c_int(booster.best_iteration)

    def _call(self, x: np.ndarray, kind: int, size: int) -> np.ndarray:
        row = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
        if row.shape[0] != self._width:
            raise ValueError(f"expected {self._width} features, got {row.shape[0]}")
        out = np.empty(size, dtype=np.float64)
        written = ctypes.c_int64(0)
        _safe_call(
            _LIB.LGBM_BoosterPredictForMat(
                self._handle,
                row.ctypes.data_as(ctypes.c_void_p),
                ctypes.c_int(_FLOAT64),
                ctypes.c_int32(1),
                ctypes.c_int32(self._width),
                ctypes.c_int(_ROW_MAJOR),
                ctypes.c_int(kind),
                ctypes.c_int(0),
                self._iterations,
                _PARAMETERS,
                ctypes.byref(written),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )
        if written.value != size:
            raise ValueError(f"LightGBM wrote {written.value} values, expected {size}")
        return out

    def probability(self, x: np.ndarray) -> float:
        """``Booster.predict(x.reshape(1, -1), num_threads=1)[0]``."""
        return float(self._call(x, _NORMAL, 1)[0])

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """``Booster.predict(x.reshape(1, -1), pred_contrib=True, num_threads=1)[0]``: the
        features' SHAP values, then the base value."""
        return self._call(x, _CONTRIB, self._width + 1)
