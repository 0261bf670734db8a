"""Judge a video: does it decode, hold a face, move its mouth, and move it with the speech?

Runs in envdoctor's own process on ffmpeg alone (media.py) and knows nothing of MuseTalk; smoke
runs MuseTalk and hands its video here, and `envdoctor verify` judges any video.
"""
