"""The pilot page's parts, one module per tab: overview (seats, flags, the
handover questions and the pilot's own actions), criteria and decisions,
production readiness, handover (acceptance before go, check-ins after it),
weekly updates and history. pages/pilot.py picks the
pilot and composes them; each saves through web.forms.save."""

# The tabs, in order. Only the open one is drawn; its label is the `tab`
# query parameter, so a link can open a pilot on one of them.
TABS = ("Overview", "Criteria and decisions", "Production readiness", "Handover and check-ins", "Weekly updates",
        "History")
