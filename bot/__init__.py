"""Sakura-bot: a municipal SMS / RCS chatbot driven by YAML flows."""

__version__ = "0.1.0"
