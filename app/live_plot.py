"""Live charts: a tiny Streamlit component that draws figures with Plotly.react on the same DOM nodes
(one iframe, one plotly.js load), so a training run's curves update in place without flicker."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st

APP_DIR = Path(__file__).resolve().parent


def _component_dir() -> str:
    """index.html (from app/components/live_plot) + plotly.js from the installed plotly package,
    copied once into a temp folder that Streamlit serves."""
    import plotly
    src_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    dest = Path(tempfile.gettempdir()) / f"lewm-lab-live-plot-{plotly.__version__}"
    dest.mkdir(parents=True, exist_ok=True)
    html = (APP_DIR / "components" / "live_plot" / "index.html").read_bytes()
    for name, data in (("index.html", html),):
        p = dest / name
        if not p.exists() or p.read_bytes() != data:
            tmp = dest / f".{name}.{os.getpid()}"
            tmp.write_bytes(data)
            os.replace(tmp, p)
    js = dest / "plotly.min.js"
    if not js.exists() or js.stat().st_size != src_js.stat().st_size:
        tmp = dest / f".plotly.{os.getpid()}"
        shutil.copyfile(src_js, tmp)
        os.replace(tmp, js)
    return str(dest)


@st.cache_resource(show_spinner=False)
def _component_path() -> str:
    return _component_dir()


def live_plots(figs: list[go.Figure], key: str, height: int = 300, columns: int = 2) -> None:
    """Render figures in one live component (one iframe, one plotly.js load, Plotly.react updates)."""
    import streamlit.components.v1 as components
    comp = components.declare_component("live_plot", path=_component_path())
    specs = "[" + ",".join(pio.to_json(f, validate=False, remove_uids=True) for f in figs) + "]"
    rev = hashlib.md5(specs.encode()).hexdigest()[:16]
    comp(specs=specs, rev=rev, columns=columns, height=height, key=key, default=None)
