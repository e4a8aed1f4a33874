"""Sends malformed requests to every route of a running Keycard and reports any 5xx answer.

Usage: python3 scripts/probe-bad-input.py BASE_URL API_KEY ROUTES_FILE
ROUTES_FILE lists route templates, one per line; `{param}` segments are filled with odd ids.
Exits 1 if any request got a 5xx or no answer. Run through scripts/probe-bad-input.sh.
"""

import sys
import urllib.error
import urllib.parse
import urllib.request

base, key, routes_file = sys.argv[1], sys.argv[2], sys.argv[3]
routes = sorted({line.strip() for line in open(routes_file) if line.strip().startswith("/")})

ODD_IDS = ["x", "0", "-1", "00000000-0000-0000-0000-000000000000",
           "01a2040d-6bf3-743b-b5f8-595596106a37", "a" * 300, "%ff", "..", "null"]
BODIES = [
    b"", b"{", b"[]", b"null", b"1", b'"s"', b'{"name": 1}', b'{"name": null}', b'{"name": ""}',
    b'{"name": "' + b"a" * 5000 + b'"}', b'{"roles": "x"}', b'{"roles": [1]}', b'{"role_ids": ["x"]}',
    b'{"policy_actions": [{"action": 1}]}', b'{"subject": {}, "action": {}, "resource": {}}',
    b'{"subject": {"type": "user", "id": "admin"}, "action": {"name": "a"},'
    b' "resource": {"type": "t", "id": "r"}, "page": {"token": "zzz"}}',
    b'{"evaluations": [1, null, {}]}', b'{"username": 5}', b'{"user": {"username": "admin"}}',
    b'{"members": [1]}', b'{"email": "not-an-email"}', b'{"limit": -1}', b'{"cursor": "\\u0000"}',
    b"\xff\xfe", b'{"a":' * 200,
]
QUERIES = ["", "?limit=-1", "?limit=99999999999999", "?cursor=%%%", "?cursor=zzzz", "?offset=-5",
           "?sort=zz", "?filter=%7B", "?equals=x&equalsField=%7B", "?page=-1&per_page=0"]


def send(method, url, body, content_type):
    request = urllib.request.Request(url, data=body, method=method)
    request.add_header("Authorization", "Bearer " + key)
    request.add_header("X-Polytomic-Version", "2024-02-08")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()[:200]
    except urllib.error.HTTPError as err:
        return err.code, err.read()[:200]


def concrete_paths(route):
    for odd in ODD_IDS:
        path = route
        while "{" in path:
            start, end = path.index("{"), path.index("}")
            path = path[:start] + urllib.parse.quote(odd, safe="%") + path[end + 1:]
        yield path


failures = total = 0
for route in routes:
    for path in sorted(set(concrete_paths(route))):
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"]:
            queries = QUERIES if method == "GET" else [""]
            bodies = [None] if method in ("GET", "DELETE") else BODIES
            for query in queries:
                for body in bodies:
                    total += 1
                    try:
                        status, answer = send(method, base + path + query, body,
                                              "application/json" if body else None)
                    except Exception as err:  # no answer at all: the server failed
                        failures += 1
                        print("no answer", method, path + query, (body or b"")[:60], err)
                        continue
                    if status >= 500:
                        failures += 1
                        print(status, method, path + query, (body or b"")[:80], answer[:150])
print(f"{total} requests, {failures} without a 4xx or 2xx answer")
sys.exit(1 if failures else 0)
