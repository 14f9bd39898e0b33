"""Install and teardown steps, one module per area. Each is idempotent: check → apply → describe."""
