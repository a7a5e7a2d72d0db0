"""HTTP streaming of torrent files: Range parsing, signed stream tokens, the stream response.

Pure parsing lives in ``ranges``/``tokens``/``subtitles``; the routes in ``endpoints``.
"""
