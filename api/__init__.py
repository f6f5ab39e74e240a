"""The gateway: Pinpoint's REST wire format over FastAPI."""
