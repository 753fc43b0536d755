"""lewm.figures.images: frames embedded as PNG, grids and the animation."""
import numpy as np

from lewm import figures as fg
from _figures import RNG


def test_images_embed_the_frames():
    import base64
    import io

    from PIL import Image
    img = RNG.integers(0, 255, (8, 8, 3), dtype=np.uint8)
    up = fg.upscale(img, 32)
    assert up.shape == (32, 32, 3) and np.array_equal(up[::4, ::4], img)

    def decoded(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    f = fg.fig_image(img, title="t", extent=224.0)
    assert np.array_equal(decoded(f.data[0].source)[::64, ::64], img) and f.layout.xaxis.range == (0, 224.0)
    f = fg.fig_image_grid([[img, img], [img, 255 - img]], ["a", "b"], ["+1", "+2"], title="g", size=16)
    assert len(f.data) == 4 and np.array_equal(decoded(f.data[3].source)[::2, ::2], 255 - img)
    assert {a.text for a in f.layout.annotations} == {"a", "b", "+1", "+2"}
    frames = np.stack([img, 255 - img, img])  # (T, S, S, 3)
    f = fg.animation_figure(frames, size=16, extent=224.0, states=np.ones((3, 2)), goal_xy=(5.0, 6.0), radius=2.0)
    assert len(f.frames) == 3 and np.array_equal(decoded(f.frames[1].data[0].source)[::2, ::2], 255 - img)
    assert len(f.layout.sliders[0].steps) == 3
