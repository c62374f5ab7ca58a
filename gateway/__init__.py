"""callout: a telephony and radio dispatch gateway."""

__version__ = "0.1.0"
