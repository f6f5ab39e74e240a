"""OpenPoint: a self-hosted engagement platform that speaks Amazon Pinpoint's REST API."""
