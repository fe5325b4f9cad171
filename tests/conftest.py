"""Test-wide settings: no display, no model hub."""

import os

import matplotlib

matplotlib.use("Agg")
# Models load from local paths or installed packages only, never from a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
