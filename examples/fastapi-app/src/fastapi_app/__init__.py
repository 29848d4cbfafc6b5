"""Example FastAPI service for pyoci."""
