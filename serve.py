"""What `make run` serves: the pages (app.py) and, on the same server and
port, the HTTP API and the calendar feeds (portfolio/api). Streamlit's
`streamlit run serve.py` finds the ``st.App`` below and runs it with its own
server settings (.streamlit/config.toml: this machine only, by default)."""

import streamlit as st

from portfolio.api import routes

app = st.App("app.py", routes=routes())
