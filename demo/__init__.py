"""The charmodels app (demo/app.py) and the modules beside it: i18n, views, service."""
