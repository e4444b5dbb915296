"""Tests for the job-opportunity e-mail service."""
