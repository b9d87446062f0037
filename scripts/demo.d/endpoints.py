"""Local stand-in for the portal and pipelines health endpoints, for scripts/demo.
Listens on 127.0.0.1 on a free port and writes the port to the file given as argument."""
import http.server
import sys

BODIES = {
    "/.backstage/health/v1/readiness": b'{"status":"ok"}',
    "/api/health": b"true",
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = BODIES.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.request_queue_size = 128
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
