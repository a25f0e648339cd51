"""The web: the JSON API, the HTML pages and the WSGI entry point."""
