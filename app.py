"""Entry point for `flask --app app ...` and for gunicorn (`app:app`)."""

from shop import create_app

app = create_app()
