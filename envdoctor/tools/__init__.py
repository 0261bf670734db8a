"""System tools MuseTalk and envdoctor call by name (ffmpeg), found or provided without root."""
