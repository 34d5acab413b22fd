"""stepup-mfa: demand fresh multi-factor authentication on high-value API endpoints."""
