"""Reporting: statistics over stored results (`stats`), their figures, and reports built on them."""
