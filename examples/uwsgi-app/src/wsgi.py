"""A WSGI application with no framework, served by uWSGI."""

import json
import os
import sys


def application(environ, start_response):
    body = json.dumps(
        {
            "message": "hello from uwsgi",
            "path": environ.get("PATH_INFO", "/"),
            "python": sys.version.split()[0],
            "uid": os.getuid(),
        }
    ).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
