"""Data: collect a small dataset (background process, progress bar) and browse its episodes."""
import os
import warnings

import streamlit as st

import common
import discovery
import file_names
import jobs_view
import pickers
import safety
import widgets
from lewm import figures
from lewm.envs import list_envs
from lewm.envs.policies import POLICY_KINDS
from lewm.jobs import ACTIVE, AlreadyRunning

st.title("Data")
st.caption("Episodes are stored in one HDF5 file per dataset (pixels, actions, true states), in `runs/data/` by default.")
mgr = common.job_manager()

# ------------------------------------------------------------------ collect
data_err = common.data_dir_error()
with st.expander("Collect a new dataset", expanded=not discovery.list_datasets() or bool(data_err)):
    if data_err:
        st.error(data_err, icon=":material/folder_off:")
    with st.form("collect_form"):
        c1, c2, c3, c4 = st.columns(4)
        env_name = c1.selectbox("Environment", list_envs(), key="data_env")
        episodes = c2.number_input("Episodes", 1, 20000, 50, step=10, key="data_episodes")
        image_size = c3.selectbox("Image size (px)", [32, 64, 96, 128, 224], index=1, key="data_image_size")
        policy = c4.selectbox("Policy", list(POLICY_KINDS), key="data_policy",
                              help="expert: a noisy scripted controller (purposeful, diverse); random: uniform actions; "
                                   "wall_slide (Two-Room): random walks, 65% of them pushing into the wall and sliding along it")
        c5, c6 = st.columns([1, 3])
        seed = c5.number_input("Seed", 0, 10**6, 0, key="data_seed")
        fname = c6.text_input("File name", value="", placeholder=f"{env_name}-{image_size}px-{episodes}ep.h5",
                              key="data_fname")
        go_collect = st.form_submit_button("Collect", type="primary", disabled=bool(data_err))
    name, name_note = file_names.collect_name(fname, f"{env_name}-{image_size}px-{episodes}ep")
    if go_collect and not data_err and name is None:
        st.error(name_note, icon=":material/edit_off:")
    elif go_collect and not data_err:
        try:
            with warnings.catch_warnings():  # a new name beside an existing file: the job's note says it
                warnings.simplefilter("ignore", UserWarning)
                job = mgr.start_collect(env_name, int(episodes), os.path.join(common.data_dir(), name),
                                        image_size=int(image_size), policy=policy, seed=int(seed),
                                        owner=jobs_view.owner())
        except AlreadyRunning as e:  # a second click (was: a twin collection of the same episodes, renamed '-1')
            st.session_state["data_job"] = e.job.id
            st.error(f"{e}: {int(episodes)} {env_name} episodes into {name}; its progress is below (Stop it there "
                     f"to start it again).", icon=":material/content_copy:")
        except (ValueError, OSError) as e:  # the data folder changed under the page, a full disk: one line
            st.error(f"Cannot collect into {name}: {e}")
        else:
            st.session_state["data_job"] = job.id
            st.session_state["data_name_note"] = name_note  # said after the rerun, beside the job's progress
            st.rerun()
    if (note := st.session_state.pop("data_name_note", None)) is not None:
        st.info(note, icon=":material/drive_file_rename_outline:")

collect_jobs = mgr.jobs("collect")
active = [j for j in collect_jobs if j.status in ACTIVE]


@safety.fragment(run_every=0.7 if active else None)
def collect_progress():
    jobs_now = jobs_view.current_collections(mgr.jobs("collect"))  # one per file, the newest job's
    for j in jobs_now:
        jobs_view.collect_status(j, "data")
    if active and not any(j.status in ACTIVE for j in jobs_now):
        st.rerun()


if collect_jobs:
    collect_progress()

# ------------------------------------------------------------------ browse
st.subheader("Browse episodes")
browsed = jobs_view.selected("data_browse")
path, info = pickers.pick_dataset("data_browse", label="Dataset")
if (gone := jobs_view.vanished(browsed, path)) is not None:
    st.warning(gone, icon=":material/warning:")
if path is None:
    st.stop()
m = st.columns(5)
m[0].metric("environment", info["env"] or "?")
m[1].metric("episodes", info["num_episodes"])
m[2].metric("frames", f"{info['num_frames']:,}")
m[3].metric("image size", f"{info['image_size']} px")
m[4].metric("action dim", info["action_dim"])

ep, episode = widgets.pick_episode(st, path, info, "data_episode")
L = len(episode["pixels"])


def episode_view(episode: dict, env_name: str, state_names) -> None:
    """The episode as one figure scrubbed in the browser: its slider restyles the frame and the step
    markers (no server round trip per move)."""
    state = episode.get("state")
    over = env_name == "two_room" and state is not None  # Two-Room frames span its 224-unit canvas
    fig = figures.fig_episode_scrubber(episode["pixels"], episode["action"], state, state_names,
                                       extent=224.0 if over else None)
    st.plotly_chart(fig, key="data_episode_fig")
    if state is None:
        st.info("This dataset has no 'state' key (no true physical state to plot).")


episode_view(episode, info["env"], info["state_names"])
st.caption(f"`{discovery.rel(path)}` · episode {ep}: {L} frames; scrub with the figure's slider. The last action row "
           f"is NaN by convention (shown as 0).")
