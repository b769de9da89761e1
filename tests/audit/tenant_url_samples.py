"""Sample URL arguments for the cross-workspace walk (tests/tenancy/tenant_urls.py)."""

SAMPLE_KWARGS = {"workspace_settings:audit": lambda world: {}}
