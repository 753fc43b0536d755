"""lewm.diagnostics.latent_map: PCA and UMAP maps of a latent cloud, and placing new points on them."""
import numpy as np
import pytest

from lewm import diagnostics as dg


def test_pca_map_is_an_isometry_of_a_planar_cloud():
    g = np.random.default_rng(0)
    q, _ = np.linalg.qr(g.normal(size=(10, 2)))  # (D, 2) orthonormal plane
    a = g.normal(size=(300, 2)) * [3.0, 1.0]
    m = dg.fit_latent_map(a @ q.T, "pca", seed=0)
    d_map = np.linalg.norm(m.coords[:, None] - m.coords[None], axis=-1)
    d_true = np.linalg.norm(a[:, None] - a[None], axis=-1)
    np.testing.assert_allclose(d_map, d_true, atol=1e-3)
    new = g.normal(size=(5, 2))
    placed = m.transform(new @ q.T)  # new points keep their distances to the fitted ones
    np.testing.assert_allclose(np.linalg.norm(placed[:, None] - m.coords[None], axis=-1),
                               np.linalg.norm(new[:, None] - a[None], axis=-1), atol=1e-3)
    with pytest.raises(ValueError, match="umap"):
        dg.fit_latent_map(a @ q.T, "tsne")


@pytest.mark.slow
def test_umap_map_places_new_points_with_their_cluster():
    g = np.random.default_rng(0)
    centres = g.normal(size=(3, 16)) * 10
    lab = np.repeat(np.arange(3), 100)
    z = centres[lab] + g.normal(size=(300, 16))
    m = dg.fit_latent_map(z, "umap", seed=0)
    assert m.coords.shape == (300, 2)
    map_centres = np.stack([m.coords[lab == c].mean(0) for c in range(3)])
    new = centres + g.normal(size=(3, 16))
    placed = m.transform(new)
    nearest = np.linalg.norm(placed[:, None] - map_centres[None], axis=-1).argmin(1)
    assert (nearest == np.arange(3)).all()
