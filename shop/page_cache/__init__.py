"""Public pages kept rendered, and the version that says when they change."""
