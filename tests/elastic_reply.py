"""What a fake Elasticsearch served by ``http.server`` answers with: a JSON body and the product
header the official client insists on."""

from __future__ import annotations

import http.server


def reply_json(handler: http.server.BaseHTTPRequestHandler, body: bytes, status: int = 200) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("X-Elastic-Product", "Elasticsearch")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
