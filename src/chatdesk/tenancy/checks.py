"""System checks for tenancy (registered in TenancyConfig.ready)."""
