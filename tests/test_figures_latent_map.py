"""lewm.figures.latent_map: points, colour and hover."""
import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_latent_map_carries_points_colour_and_hover():
    coords, st = RNG.random((10, 2)), RNG.random((10, 2))
    custom, hover = fg.point_hover(np.arange(10) // 5, np.arange(10) % 5, st, ["a", "b"])
    assert custom.shape == (10, 5) and "a = %{customdata[3]:.2f}" in hover
    f = fg.fig_latent_map(coords, st[:, 0], "a", method="pca", customdata=custom, hovertemplate=hover,
                          trajectories=[("ep", coords[:3], "black")])
    assert np.array_equal(f.data[0].x, coords[:, 0]) and np.array_equal(f.data[0].marker.color, st[:, 0])
    assert f.data[0].marker.colorbar.title.text == "a" and f.layout.xaxis.title.text == "pca-1"
    assert np.array_equal(_trace(f, "ep").y, coords[:3, 1])
