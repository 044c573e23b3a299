"""The tracker over HTTP, served beside the pages on the same server
(serve.py hands these routes to Streamlit's ``st.App``): the JSON API for
the tools around the tracker (``/api/...``, see openapi.py) and the
calendar feeds that calendar clients subscribe to (``/calendar/...``).

Like the pages and the command line, these routes call services only, and
open the database for one request at a time. Starlette, never Streamlit."""

from portfolio.api.routes import routes

__all__ = ["routes"]
