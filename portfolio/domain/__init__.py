"""The domain: pure Python, no database and no Streamlit. The vocabulary
(stages, roles, seats), the input models validated at the boundary, the
errors every layer raises, the clock, who may do what, and the pilot rules.
Anything that needs a date takes ``as_of``; nothing here reads the clock of
the machine or runs SQL."""
