"""Test doubles for external services, such as a fake OpenAI server."""
