"""LeWM Lab — entry point: `streamlit run app/lab.py [-- --checkpoint FILE --data FILE.h5 --runs DIR]`.

Pages live in app/app_pages/ (layout only; not "pages/": Streamlit would treat that folder as a
legacy multipage app and hijack deep links until the entry file has run once); shared helpers in app/*.py (common.py, the bootstrap, says which); all math in lewm/.

The server's settings (127.0.0.1 only, no usage statistics, no file watcher) come from
app/.streamlit/config.toml, which Streamlit reads beside the main script wherever it is started from.
Everything runs under ``if __name__ == "__main__"``: Streamlit runs this file as ``__main__``, while a
job's spawned worker process imports it as ``__mp_main__`` and must not run the lab (that printed
"missing ScriptRunContext" warnings by the hundred and cost each worker a page render).
"""
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def main() -> None:
    for p in (str(APP_DIR), str(APP_DIR.parent)):
        if p not in sys.path:
            sys.path.insert(0, p)

    import streamlit as st

    import common
    import pickers
    import safety

    st.set_page_config(page_title="LeWM Lab", page_icon=":material/neurology:", layout="wide")
    pages = [st.Page(path, title=title, icon=icon, default=(i == 0))
             for i, (path, (title, icon)) in enumerate(common.PAGES.items())]
    nav = st.navigation(pages)
    addr = st.get_option("server.address")
    if addr not in LOOPBACK:
        st.sidebar.warning(f"This server listens on {addr or 'every network interface'}: anyone who can reach this "
                           "machine can use the lab. Restart it with `--server.address 127.0.0.1`.")
    if (problem := common.limit_torch_threads()) is not None:  # a bad LEWM_LAB_THREADS: fell back, said so
        st.warning(problem, icon=":material/warning:")
    if (err := common.device_error()) is not None:  # a bad LEWM_LAB_DEVICE: one message, not a traceback per page
        st.error(err, icon=":material/memory:")
        st.stop()
    with safety.guard():
        restored = keep_settings(st, getattr(nav, "url_path", None) or nav.title)
        pickers.sidebar_checkpoint()
        run_page(st, nav, restored)


def run_page(st, nav, restored: dict) -> None:
    """Run the page; a value the memory put back that the page's widget now refuses (a slider's range shrank
    with a shorter dataset: Streamlit's "value above max_value" box, round 22 N1) is set to the widget's bound,
    said in one line, and the page is run once more (a second refusal is the page's own bug: shown)."""
    import widget_memory
    from streamlit.errors import StreamlitValueAboveMaxError, StreamlitValueBelowMinError
    if (refused := st.session_state.pop(_REFUSED, None)) is not None:  # before the page's widgets exist
        key, bound, message = refused
        st.session_state[key] = bound
        st.info(message, icon=":material/tune:")
    try:
        nav.run()
    except (StreamlitValueAboveMaxError, StreamlitValueBelowMinError) as e:
        fix = widget_memory.misfit(restored, getattr(e, "exec_kwargs", None) or {}) if refused is None else None
        if fix is None:
            raise
        st.session_state[_REFUSED] = fix  # the widget exists now: its key is set at the start of the next run
        st.rerun()


_REFUSED = "_lab_memory_refused"


def keep_settings(st, page) -> dict:
    """Put back the values of ``page``'s input widgets that Streamlit dropped while another page was shown
    (widget_memory.py says how); before any widget of this run exists. Returns the values put back."""
    import widget_memory
    memory = st.session_state.setdefault(widget_memory.MEMORY_KEY, widget_memory.new_memory())
    try:  # Streamlit's record of each key's widget type (no public API); another Streamlit: nothing is kept
        from streamlit.runtime.scriptrunner import get_script_run_ctx
        state = get_script_run_ctx().session_state._state
        inputs = {}
        for k in list(st.session_state.keys()):
            wid = state.get_widget_id_from_key(k)
            meta = state.get_widget_metadata(wid) if wid else None
            if meta is not None and widget_memory.is_kept(meta.value_type, v := st.session_state[k]):
                inputs[k] = v
    except (AttributeError, KeyError, TypeError):
        return {}
    restored = widget_memory.remember(memory, inputs, st.session_state.keys(), page)
    for k, v in restored.items():
        st.session_state[k] = v
    return restored


if __name__ == "__main__":
    main()
