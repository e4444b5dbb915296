"""A small async client for the Zoho CRM v8 REST API."""
