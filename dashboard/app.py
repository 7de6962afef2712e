"""Entry point: `streamlit run dashboard/app.py` (from the repository root, for the theme)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# Streamlit puts dashboard/ on sys.path, not the repository root: make `dashboard.*` importable.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from dashboard import ui  # noqa: E402
from dashboard.i18n import LANG_NAMES, LANGS, default_lang, t  # noqa: E402
from dashboard.settings import MISSING_KEY, load_settings  # noqa: E402

log = logging.getLogger("dashboard")

# Not "pages/": Streamlit would treat that folder as an old-style multipage app and run a
# page without this entry point (so without the sys.path fix and the sidebar).
PAGES_DIR = Path(__file__).parent / "views"


def _language() -> None:
    if "lang" not in st.session_state:
        wanted = st.query_params.get("lang", "")
        st.session_state["lang"] = wanted if wanted in LANGS else default_lang()
    st.sidebar.segmented_control(
        t("app.lang"),
        LANGS,
        format_func=LANG_NAMES.__getitem__,
        key="lang",
        selection_mode="single",
        required=True,
    )


@st.cache_resource(show_spinner=False)
def _log_missing_key() -> None:
    """Once per server process, not once per page view."""
    log.error(MISSING_KEY)


def _refuse_without_key() -> None:
    if load_settings().api_key:
        return
    _log_missing_key()
    st.error(t("app.no_key"), icon=":material/key_off:")
    st.stop()


def main() -> None:
    st.set_page_config(
        page_title=t("app.title"),
        page_icon=":material/account_balance:",
        layout="wide",
        initial_sidebar_state="expanded",
    )
    _language()
    _refuse_without_key()
    pages = [
        st.Page(
            PAGES_DIR / "decision.py",
            title=t("page.decision"),
            icon=":material/gavel:",
            default=True,  # the default page lives at "/": deep links are /?client_id=...
        ),
        st.Page(
            PAGES_DIR / "explanation.py",
            title=t("page.explanation"),
            icon=":material/insights:",
            url_path="explanation",
        ),
        st.Page(
            PAGES_DIR / "comparison.py",
            title=t("page.comparison"),
            icon=":material/groups:",
            url_path="comparison",
        ),
        st.Page(
            PAGES_DIR / "whatif.py",
            title=t("page.whatif"),
            icon=":material/tune:",
            url_path="whatif",
        ),
        st.Page(
            PAGES_DIR / "model.py",
            title=t("page.model"),
            icon=":material/model_training:",
            url_path="model",
        ),
    ]
    page = st.navigation(pages)
    st.logo(str(Path(__file__).parent / "static" / "logo.svg"), size="large")
    st.sidebar.markdown(f"**{t('app.title')}**")
    ui.client_picker()
    page.run()


main()
