"""The pilot portfolio tracker's core, in layers: domain (pure rules and
models), flags, storage (the only SQL), services (what users do), the
command line, and web (the only part that imports Streamlit). The README's
"Layout" says what each folder owns."""

__version__ = "0.1.0"
