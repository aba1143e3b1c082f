"""Campaign engine: the shared layer of the SES campaign functions.

- ``domain``: pure logic (no AWS): models, rules, audience parsing, batching, SES request building.
- ``adapters``: thin boto3 wrappers (S3, DynamoDB, SES, Step Functions, Secrets Manager).
- ``services``: one use case per function, composing the domain with the adapters.
"""
