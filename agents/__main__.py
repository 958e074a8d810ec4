"""``python -m agents <command>``: the Faust CLI of the app (worker, produce, tail, ...)."""

from agents.app import app

app.main()
