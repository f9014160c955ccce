"""Prefect flows of affiliate-sync and the command line that starts them."""
