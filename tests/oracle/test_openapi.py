"""The OpenAPI document served by `cairn serve` is valid OpenAPI 3.1, as the PyPI
`openapi-spec-validator` judges it, and every operation it lists answers (not 404/405)."""

import requests
from openapi_spec_validator import validate

from test_connector import CairnServer


def test_openapi_document_is_valid_and_complete(cairn, data_dir):
    server = CairnServer(cairn, data_dir, [])
    try:
        r = requests.get(f"{server.base}/api/v1/openapi.json", timeout=30)
        assert r.status_code == 200, r.text[:500]
        spec = r.json()
        validate(spec)  # raises with the first violation, naming its place
        assert spec["openapi"].startswith("3.1")
        # Every described route exists: without credentials it answers 401 (or 200 for
        # the open ones), never 404/405, whatever the method.
        for path, methods in spec["paths"].items():
            url = server.base + path.replace("{", "").replace("}", "")
            for method in methods:
                resp = requests.request(method.upper(), url, timeout=30)
                assert resp.status_code not in (404, 405), f"{method.upper()} {path}: {resp.status_code}"
    finally:
        server.stop()
