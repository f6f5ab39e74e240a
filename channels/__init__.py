"""Provider clients — SMTP, Twilio, FCM, APNs, webhooks, AWS Lambda, the custom-channel router —
and the one Deliverer every message goes through (idempotency key, SENDING by compare-and-set,
outcome and standard events in one transaction)."""
