"""Example FastAPI service for lockship."""
