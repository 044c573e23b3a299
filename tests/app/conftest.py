"""AppTest as a served app behaves.

A served app detects the older pages/-folder mode once per process and
st.navigation switches it off for good; AppTest detects it again before
every run, so each run would start in that mode and widget state set by a
test would not reach the next run. Switching the mode off after each
detection makes every AppTest run take the path a served app takes."""

import pytest
from streamlit.runtime import pages_manager


@pytest.fixture(autouse=True)
def navigation_mode_as_served(monkeypatch):
    original = pages_manager.PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        pages_manager.PagesManager.uses_pages_directory = False

    monkeypatch.setattr(pages_manager.PagesManager, "__init__", init)
