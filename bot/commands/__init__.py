"""The `bot` command's implementations, by what they work on: serving residents
(serving.py: serve, chat), the city's folder (authoring.py: init, flows, replay, nlu), the
database (database.py: migrate, backup, handoff, faq misses). bot/cli.py parses the command
line and dispatches to them; `bot staff`, `bot audit` and `bot notices` are their packages'
own (bot/staff/cli.py, bot/notices/cli.py)."""
