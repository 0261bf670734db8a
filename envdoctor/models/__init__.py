"""MuseTalk's weight files: the manifest (envdoctor/data/models.toml), verifying a tree by sha256, fetching it."""
