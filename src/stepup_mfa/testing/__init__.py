"""Tools for testing applications protected by stepup-mfa."""
