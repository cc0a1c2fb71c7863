"""What operators see: metrics, structured logs with pinned logger names, and secret redaction."""
