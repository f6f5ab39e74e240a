"""Loopback fakes of the providers' HTTP APIs: the real SDKs talk to these in tests."""
