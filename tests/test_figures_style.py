"""lewm.figures.style: the house layout and the update-slider builder."""
import plotly.graph_objects as go
import plotly.io as pio

from lewm.figures.style import TEMPLATE, base, update_slider


def test_base_applies_the_house_layout_and_takes_overrides():
    f = go.Figure()
    assert base(f, "T", height=300) is f
    assert f.layout.title.text == "T" and f.layout.height == 300 and f.layout.margin.t == 40
    assert f.layout.legend.orientation == "h" and f.layout.template == pio.templates[TEMPLATE]
    g = base(go.Figure(), margin=dict(l=1, r=2, t=3, b=4))
    assert g.layout.title.text is None and (g.layout.margin.l, g.layout.margin.t) == (1, 3)
    assert base(go.Figure()).layout.margin.t == 15  # no title: a thinner top margin


def test_update_slider_steps_call_update_on_the_given_traces():
    s = update_slider([("a", {"x": [[1]]}, {"title.text": "A"}), ("b", {"x": [[2]]}, {})], [3], active=1, y=-0.1)
    assert s["active"] == 1 and s["y"] == -0.1 and s["yanchor"] == "top"
    assert [st["label"] for st in s["steps"]] == ["a", "b"]
    assert s["steps"][0] == {"method": "update", "label": "a", "args": [{"x": [[1]]}, {"title.text": "A"}, [3]]}
    f = go.Figure(go.Scatter(x=[0]), layout=dict(sliders=[s]))  # plotly accepts it as a slider
    assert f.layout.sliders[0].steps[1].args[0] == {"x": [[2]]}
