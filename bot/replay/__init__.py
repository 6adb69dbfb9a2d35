"""Conversation tests: the file format, the runner, and coverage."""
