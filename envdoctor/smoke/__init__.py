"""Smoke runs and the verifier: run MuseTalk (or its heavy libraries) and judge what comes out."""
