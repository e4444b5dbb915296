"""Turns a client's details into a finished e-mail."""
