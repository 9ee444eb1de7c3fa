"""firmware_contracts package."""
