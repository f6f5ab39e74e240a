"""One router per Pinpoint area. Importing this module registers every implemented operation."""

from api.routes import (
    analytics,
    apps,
    campaign_activities,
    campaigns,
    channels,
    endpoints,
    engagement,
    events,
    jobs,
    messages,
    otp,
    phone,
    segments,
    tags,
    templates,
    twilio_hooks,
)

ROUTERS = [
    apps.router,
    endpoints.router,
    events.router,
    channels.router,
    messages.router,
    tags.router,
    jobs.router,
    segments.router,
    campaigns.router,
    templates.router,
    engagement.router,
    twilio_hooks.router,
    otp.router,
    phone.router,
    campaign_activities.router,
    analytics.router,
]
