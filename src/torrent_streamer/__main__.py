"""``python -m torrent_streamer`` runs the CLI."""

from torrent_streamer.cli import main

main()
