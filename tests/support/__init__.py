"""Pieces several test modules share: a real server subprocess, a real Chromium."""
