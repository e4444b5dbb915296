"""Unit tests for the generation package."""
