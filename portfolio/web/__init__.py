"""The only Streamlit-aware part of the package: the run context and sign-in
(ui), the form and save helper, the charts and the pilot page's tabs. Pages
in pages/ compose these; everything they do goes through services."""
