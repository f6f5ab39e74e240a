"""One router per Pinpoint area. Importing this module registers every implemented operation."""

from api.routes import apps, channels, endpoints, events, jobs, messages, segments, tags

ROUTERS = [
    apps.router,
    endpoints.router,
    events.router,
    channels.router,
    messages.router,
    tags.router,
    jobs.router,
    segments.router,
]
