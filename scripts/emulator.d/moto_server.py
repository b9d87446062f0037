"""The local AWS emulator: moto's server application, served by waitress.

`moto_server` serves moto with werkzeug's development server, which closes the connection
after every response and starts a new thread for every connection; and moto's dispatcher
lists moto's package directory (`os.listdir`, then an `isdir` per entry, some 200) and tries
every backend's URL pattern in turn for every request, under one global lock. On this
machine that, not the emulated services, was most of the CPU an AWS call cost the emulator
(py-spy). So the emulator here is the same moto application, with:
  - waitress (a WSGI server from PyPI) in front: HTTP/1.1 keep-alive, a fixed pool of
    worker threads, as a real endpoint keeps connections open;
  - the backend of a host name looked up once per host name (it depends on nothing else).
The services, their state and their responses are moto's own, unchanged.

Usage: moto_server.py -H HOST -p PORT. Set MOTO_REQUEST_LOG=1 to log one line per request
(method, path, status) to stderr, as moto_server does. scripts/emulator and the tests'
harness (crates/test-support/src/moto.rs) start the emulator through this file.
"""

import argparse
import os
import sys

from moto import backends
from moto.moto_server import werkzeug_app

_MODULES = tuple(backends.list_of_moto_modules())
backends.list_of_moto_modules = lambda: _MODULES

_backend_for_host = werkzeug_app.DomainDispatcherApplication.get_backend_for_host
_BACKENDS = {}


def _cached_backend_for_host(self, host):
    if host not in _BACKENDS:
        _BACKENDS[host] = _backend_for_host(self, host)
    return _BACKENDS[host]


werkzeug_app.DomainDispatcherApplication.get_backend_for_host = _cached_backend_for_host


def _logged(app):
    def logging_app(environ, start_response):
        def start(status, headers, exc_info=None):
            sys.stderr.write(f'{environ.get("REMOTE_ADDR", "-")} "{environ["REQUEST_METHOD"]} {environ.get("PATH_INFO", "")} HTTP/1.1" {status.split(" ", 1)[0]}\n')
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return logging_app


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost"):
        parser.error("the emulator listens on 127.0.0.1 or localhost only")
    os.environ.setdefault("MOTO_PORT", str(args.port))

    import waitress

    app = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
    if os.environ.get("MOTO_REQUEST_LOG") == "1":
        app = _logged(app)
    sys.stderr.write(f"emulator: moto on http://{args.host}:{args.port} (waitress, {args.threads} threads)\n")
    sys.stderr.flush()
    waitress.serve(
        app,
        host=args.host,
        port=args.port,
        threads=args.threads,
        connection_limit=1000,
        channel_timeout=300,
        _quiet=True,
    )


if __name__ == "__main__":
    main()
