"""The pilot portfolio tracker's core: models, the 90-day clock, the flag
rules, storage and the services that pages, the command line and the tests
share. Nothing in here imports Streamlit except ``portfolio.ui``, the one
glue module the pages use."""

__version__ = "0.1.0"
