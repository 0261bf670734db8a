"""Deployment: a lock of the user's own working environment, torch included, and its comparison.

`inventory` reads what is installed (a probe inside the target); `hashes` finds the wheel each
distribution came from and its sha256; `envlock` writes and reads deploy/pylock.toml and
deploy/requirements.txt; `compare` says which distributions of an environment differ from a lock.
"""
