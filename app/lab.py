"""LeWM Lab — entry point: `streamlit run app/lab.py [-- --checkpoint FILE --data FILE.h5 --runs DIR]`.

Pages live in app/app_pages/ (layout only; not "pages/": Streamlit would treat that folder as a
legacy multipage app and hijack deep links until the entry file has run once); shared helpers in app/common.py; all math in lewm/.
"""
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent
for p in (str(APP_DIR), str(APP_DIR.parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

import streamlit as st  # noqa: E402

import common  # noqa: E402

st.set_page_config(page_title="LeWM Lab", page_icon=":material/neurology:", layout="wide")

pages = [st.Page(path, title=title, icon=icon, default=(i == 0))
         for i, (path, (title, icon)) in enumerate(common.PAGES.items())]
nav = st.navigation(pages)
common.sidebar_checkpoint()
nav.run()
