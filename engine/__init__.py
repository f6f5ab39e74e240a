"""The Temporal client side: how workflows are started, signalled and stopped."""
