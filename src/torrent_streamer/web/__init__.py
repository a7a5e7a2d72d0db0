"""The browser-facing side: the admin panel (``/admin``), the web player (``/app``) and their static files.

Server-rendered with Jinja2 (autoescape on), self-hosted assets with SRI, a strict CSP on every page.
"""
