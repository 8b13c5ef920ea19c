"""moto's S3 server answering one request at a time.

moto honours If-None-Match and If-Match on PutObject, but checks and then writes without a lock,
so under its default threaded server two racing conditional writes can both succeed. Served
one request at a time, every conditional write is decided atomically, as AWS S3 does; the
watchers' lock test races real clients against it. Usage: moto_serial.py HOST PORT
"""
import sys

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    run_simple(
        host,
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        request_handler=MotoRequestHandler,
    )
