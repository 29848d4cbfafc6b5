"""A minimal Flask app, served by gunicorn as `flask_app:app`."""

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
