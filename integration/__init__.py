"""Inbound side and job life cycle: REST API, webhook intake, dispatch, pipeline."""
