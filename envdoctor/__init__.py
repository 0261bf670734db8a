"""envdoctor: make a MuseTalk environment work, and keep it working."""

__version__ = "0.1.0"
