"""Import and export files: sources and sinks (file://, s3://, https://) and row parsing."""
