"""The Portfolio page's sections below its list, in order. Only the open one
is read and drawn; its label is the `section` query parameter, so a link
can open the Portfolio on one of them."""

PORTFOLIO_SECTIONS = ("Clock windows", "Stages and ages", "Borrowed privileges", "Cost and value", "Under watch",
                      "Readiness")
