"""Playback of any file: probe, per-client decision, HLS packaging, encoders and subtitles.

Sits above ``engine`` (it reads through engine readers) and below ``streaming`` (which serves it).
"""
