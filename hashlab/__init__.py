"""hashlab."""
