"""Thin boto3 adapters. Clients are created lazily (never at import, so tests can mock AWS
first) and reused across invocations of a warm Lambda."""
