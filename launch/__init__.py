"""`make run`: the servers it embeds (PostgreSQL, Temporal), the local sinks that stand in for
providers nobody configured (SMTP, Twilio, FCM, APNs, a webhook receiver), and the supervision
of its processes. Nothing here runs in production."""
