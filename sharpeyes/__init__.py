"""sharpeyes: monitoring for a city's public-security video network."""

__version__ = "0.1.0"
