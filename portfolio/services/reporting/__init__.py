"""Reports over the whole portfolio: the overview leadership sees first, the
digest, the review of what changed, and the exports."""
