"""Pinpoint's wire format from botocore's model: codec, shapes, ARNs; used by the gateway and by jobs."""
