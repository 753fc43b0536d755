"""lewm.figures.episode: the episode scrubber's slider steps."""
import numpy as np

from lewm import figures as fg
from _figures import RNG, _trace


def test_episode_scrubber_steps_restyle_the_frame_and_the_markers():
    """fig_episode_scrubber: one slider step per frame; step k shows frame k (decoded PNG equal),
    rings the state path's point k and moves both "now" lines to k; opens on t."""
    import base64
    import io

    from PIL import Image
    L = 5
    frames = RNG.integers(0, 255, (L, 8, 8, 3), dtype=np.uint8)
    actions, states = RNG.random((L, 2)), RNG.random((L, 3)) * 224
    f = fg.fig_episode_scrubber(frames, actions, states, ["x", "y", "z"], extent=224.0, t=2)
    steps = f.layout.sliders[0].steps
    assert len(steps) == L and f.layout.sliders[0].active == 2 and f.layout.title.text == "Frame 2/4"
    assert np.array_equal(_trace(f, "path").x, states[:, 0]) and np.array_equal(_trace(f, "a1").y, actions[:, 1])
    assert np.array_equal(_trace(f, "z").y, states[:, 2])

    def decoded(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    for k, st in enumerate(steps):
        restyle, relayout, idx = st.args
        names = [f.data[i].name for i in idx]
        assert names == ["frame", "now", "step", "step"] and relayout == {"title.text": f"Frame {k}/{L - 1}"}
        assert np.array_equal(decoded(restyle["source"][0]), frames[k])
        assert restyle["x"][1] == [states[k, 0]] and restyle["y"][1] == [states[k, 1]]
        assert restyle["x"][2] == [k, k] and restyle["x"][3] == [k, k]
        assert restyle["y"][3] == [states.min(), states.max()]
    # without states or a canvas: the frame and the actions only
    f = fg.fig_episode_scrubber(frames, actions)
    assert [f.data[i].name for i in f.layout.sliders[0].steps[0].args[2]] == ["frame", "step"]
