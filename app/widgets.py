"""Small page widgets: an episode picker, a row of crisp frames, the point clicked on a chart, a
duration, a job's status line."""
from __future__ import annotations

import os

import numpy as np
import streamlit as st

import common  # noqa: F401  (first: puts the repo on sys.path)
from lewm.figures import upscale


def pick_episode(container, path: str, info: dict, key: str) -> tuple[int, dict]:
    """Episode number input + load; a bad file shows st.error and stops the page. An episode chosen earlier
    that the dataset no longer has (replaced on disk, or another dataset picked) becomes the last one, said in
    one line (was: Streamlit reset it to 0 without a word)."""
    from lewm.data import DataError, load_episode
    n = int(info["num_episodes"])
    prev, of = st.session_state.get(key), st.session_state.get(f"_{key}_of")
    default = 0
    if isinstance(prev, int) and prev > n - 1:
        del st.session_state[key]  # before the widget exists, so that its new default is taken
        default = n - 1
        name = os.path.basename(path)
        st.info((f"{name} changed on disk (now {n} episodes)" if of == path else f"{name} has {n} episodes")
                + f": episode {prev} no longer exists; showing episode {default}.", icon=":material/info:")
    st.session_state[f"_{key}_of"] = path
    ep = int(container.number_input("Episode", 0, n - 1, default, key=key))
    try:
        return ep, load_episode(path, ep)
    except DataError as e:
        st.error(str(e))
        st.stop()


def show_frames(frames, captions=None, size: int = 128, columns: int | None = None) -> None:
    """A row of crisp frames."""
    frames = list(frames)
    if not frames:
        return
    cols = st.columns(columns or len(frames))
    for i, fr in enumerate(frames):
        with cols[i % len(cols)]:
            st.image(upscale(fr, size), caption=None if captions is None else captions[i], width=size)


def selected_point(event, curve: int = 0) -> int | None:
    """Index of the first clicked/selected point of trace ``curve`` in a st.plotly_chart event, or None."""
    try:
        pts = event.selection.points
    except AttributeError:
        return None
    for p in pts or []:
        if int(p.get("curve_number", 0)) == curve and p.get("point_index") is not None:
            return int(p["point_index"])
    return None


def fmt_s(s: float | None) -> str:
    if s is None or not np.isfinite(s):
        return "—"
    s = float(s)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{int(s // 60)}m{int(s % 60):02d}s"
    return f"{int(s // 3600)}h{int(s % 3600 // 60):02d}m"


def fmt_num(v, fmt: str) -> str:
    """``v`` formatted with ``fmt``; "—" when there is no number yet (None, NaN: was "nan" on the page)."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "—"
    return format(v, fmt) if np.isfinite(v) else "—"


def job_status_line(snap) -> str:
    icon = {"starting": ":material/hourglass_top:", "running": ":material/play_arrow:", "paused": ":material/pause:",
            "finished": ":material/check_circle:", "stopped": ":material/stop_circle:", "failed": ":material/error:"}
    return f"{icon.get(snap.status, '')} **{snap.status}** · step {snap.done}/{snap.total}"
