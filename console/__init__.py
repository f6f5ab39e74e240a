"""The web console: server-rendered pages (Jinja2 + HTMX) served by the gateway under /console."""
