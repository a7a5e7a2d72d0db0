"""Render the OpenAPI document deterministically (committed as ``openapi.json``)."""

from __future__ import annotations

import json

from fastapi import FastAPI


def render_openapi(app: FastAPI) -> str:
    return json.dumps(app.openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    import sys
    import tempfile

    from torrent_streamer.app import create_app
    from torrent_streamer.core.config import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(data_dir=data_dir, engine="memory"))
        sys.stdout.write(render_openapi(app))


if __name__ == "__main__":
    main()
