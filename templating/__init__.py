"""Pinpoint's message variables: Handlebars over Jinja2's sandbox, helpers, rendering, template checks."""
