"""さくら市's business rules: calendar, fees, bookings, childcare. Every city fact is read
from the YAML files under flows/data/, so staff change the city without a code change.

Importing the package registers the city's named actions with the flow engine."""

from bot.domain import actions, actions_people  # noqa: F401  (registrations)
