"""さくら市's business rules: calendar, fees, bookings, childcare. Every city fact is read
from the YAML files under flows/data/, so staff change the city without a code change."""
