"""The web app: JSON API and HTML pages."""
