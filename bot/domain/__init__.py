"""さくら市's business rules: calendar, fees, bookings, childcare. Every city fact is read
from the YAML files under flows/data/, so staff change the city without a code change.

Importing the package registers the city's named actions with the flow engine."""

from bot.domain import (  # noqa: F401  (registrations)
    actions,
    actions_faq,
    actions_garbage,
    actions_people,
)
