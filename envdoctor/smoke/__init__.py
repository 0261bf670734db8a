"""Smoke runs: run MuseTalk (or its heavy libraries) in the target; envdoctor.verify judges the video."""
