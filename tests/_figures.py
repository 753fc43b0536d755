"""Shared by the lewm.figures tests: one random generator and a trace finder."""
import numpy as np
import plotly.graph_objects as go


RNG = np.random.default_rng(0)


def _trace(fig: go.Figure, name: str):
    hits = [t for t in fig.data if t.name == name]
    assert len(hits) == 1, f"{name!r} in {[t.name for t in fig.data]}"
    return hits[0]
