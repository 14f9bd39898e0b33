"""Checks: preflight, offline (Tier 1) and live (Tier 2); each result is pass / warn / fail with a fix."""
