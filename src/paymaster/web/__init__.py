"""The portal: server-rendered pages (Jinja2 + HTMX) and their JSON twins under /api."""
