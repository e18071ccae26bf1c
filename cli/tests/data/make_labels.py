#!/usr/bin/env python3
"""Writes the .npy label files of cli/tests/cli.rs with NumPy (run from anywhere):

    /work/pyenv/bin/python cli/tests/data/make_labels.py

  months_i8.npy   int64 (60,): the month (1..12) of each step of data/sample.zarr
  months_u1.npy   uint8 (60,): the same as uint8
  months_2d.npy   int64 (5, 12): the same, but 2-D (refused)
  months_f8.npy   float64 (60,): the same as floats (refused)
"""

import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
months = np.arange(60) % 12 + 1
np.save(os.path.join(HERE, "months_i8.npy"), months.astype("<i8"))
np.save(os.path.join(HERE, "months_u1.npy"), months.astype("u1"))
np.save(os.path.join(HERE, "months_2d.npy"), months.astype("<i8").reshape(5, 12))
np.save(os.path.join(HERE, "months_f8.npy"), months.astype("<f8"))
