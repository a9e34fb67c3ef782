#!/usr/bin/env python3
"""openapi_test: docs/openapi.yaml against a running paymentd.

    tests/docs/openapi_test.py docs/openapi.yaml PAYMENTCTL      (ctest: openapi_matches_server)

1. The document's routes are exactly the server's (`paymentctl routes`; "*" reads as GET).
2. A scripted session calls every operation, the way an integrator would (successes and the
   errors each one documents): every answer's status is one the operation documents, its body
   validates against the documented schema (JSON Schema 2020-12, `additionalProperties: false`
   on the objects, so an undocumented field fails too), and it carries a Request-Id.
3. Every operation of the document was called.
The server runs on a fresh SQLite file in a temporary directory, on a port of its choosing, and
is stopped (by PID) at the end.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import yaml
from jsonschema import Draft202012Validator

spec_path, paymentctl = sys.argv[1], sys.argv[2]
with open(spec_path) as f:
    spec = yaml.safe_load(f)
failures = []
called = set()


def fail(what):
    failures.append(what)
    print("openapi_test: FAIL: " + what, file=sys.stderr)


def operations():
    for template, item in spec["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method in item:
                yield template, method


def template_of(method, path):
    """The document's path template that `path` instantiates, for `method` (the longest)."""
    def matches(template):
        if "{" not in template:
            return path == template
        pre, post = re.split(r"\{[a-z_]+\}", template)
        return path.startswith(pre) and path.endswith(post) and len(path) > len(pre) + len(post)
    found = [t for t, m in operations() if m == method and matches(t)]
    return max(found, key=len) if found else None


def schema_validator(schema):
    root = {"$ref": "#/components/schemas/_", "components": {"schemas": dict(spec["components"]["schemas"], _=schema)}}
    return Draft202012Validator(root)


def resolve(obj):
    while "$ref" in obj:
        name = obj["$ref"].split("/")[-1]
        section = obj["$ref"].split("/")[-2]
        obj = spec["components"][section][name]
    return obj


def call(method, path, key=None, body=None, idem=None, want=None, template=None):
    """One request, checked against the document; returns (status, parsed JSON or text)."""
    url = BASE + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method.upper())
    if key:
        req.add_header("Authorization", "Bearer " + key)
    if idem:
        req.add_header("Idempotency-Key", idem)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req) as r:
            status, headers, raw = r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read().decode()
    if not headers.get("Request-Id", "").startswith("req_"):
        fail(f"{method.upper()} {path}: no Request-Id")
    if want is not None and status != want:
        fail(f"{method.upper()} {path}: {status}, expected {want}: {raw[:300]}")
    template = template or template_of(method, path.split("?")[0])
    content_type = headers.get("Content-Type", "").split(";")[0]
    parsed = json.loads(raw) if content_type == "application/json" else raw
    if template is None:  # no route: the error shape all the same
        errors = list(schema_validator({"$ref": "#/components/schemas/Error"}).iter_errors(parsed))
        if errors:
            fail(f"{method.upper()} {path}: {status} is not the error shape: {errors[0].message}")
        return status, parsed
    called.add((template, method))
    responses = spec["paths"][template][method]["responses"]
    if str(status) not in responses:
        fail(f"{method.upper()} {path} ({template}): status {status} is not documented: {raw[:200]}")
        return status, parsed
    documented = resolve(responses[str(status)]).get("content", {})
    if content_type not in documented:
        fail(f"{method.upper()} {path}: {status} answers {content_type}, documented {list(documented)}")
        return status, parsed
    errors = list(schema_validator(documented[content_type]["schema"]).iter_errors(parsed))
    for e in errors[:3]:
        fail(f"{method.upper()} {path}: {status}: {'/'.join(map(str, e.path))}: {e.message}")
    return status, parsed


def example(template, method):
    return spec["paths"][template][method]["requestBody"]["content"]["application/json"]["example"]


def ctl(*args):
    return subprocess.run([paymentctl, "--db", DB, *args], check=True, capture_output=True, text=True).stdout


# ---- 1. the routes, both ways ------------------------------------------------------------------
server_routes = set()
for line in subprocess.run([paymentctl, "routes"], check=True, capture_output=True, text=True).stdout.splitlines():
    method, pattern = line.split(" ", 1)
    server_routes.add((pattern, "get" if method == "*" else method.lower()))
documented_routes = set(operations())
for r in sorted(server_routes - documented_routes):
    fail(f"the server has {r[1].upper()} {r[0]}, the document does not")
for r in sorted(documented_routes - server_routes):
    fail(f"the document has {r[1].upper()} {r[0]}, the server does not")

# ---- 2. a session ------------------------------------------------------------------------------
work = tempfile.mkdtemp(prefix="openapi_test.")
DB = os.path.join(work, "books.db")
ctl("init")
ctl("merchant", "create", "acme", "--currency", "USD")
ADMIN = ctl("apikey", "create", "--admin").splitlines()[0]
ACME = ctl("--merchant", "acme", "apikey", "create").splitlines()[0]
server = subprocess.Popen([paymentctl, "--db", DB, "--json", "serve", "--listen", "127.0.0.1:0", "--access-log", "off"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    BASE = "http://" + json.loads(server.stdout.readline())["listening"]
    P = "/v1/payments"
    call("get", "/healthz", want=200)
    call("get", "/metrics", want=200)
    call("post", "/v1/merchants", ADMIN, example("/v1/merchants", "post"), "m-beta", want=200)
    call("post", "/v1/merchants", ACME, example("/v1/merchants", "post"), "m-beta-2", want=403)
    call("post", "/v1/funding?merchant=acme", ADMIN, example("/v1/funding", "post"), "f-1", want=200)
    call("post", "/v1/funding?merchant=acme", ADMIN,
         {"amount": "10.00", "currency": "USD", "card": {"number": "4242424242424242", "expiry": "12/30"}}, "f-2", want=200)
    call("post", "/v1/funding?merchant=nobody", ADMIN, {"amount": "1.00", "currency": "USD"}, "f-3", want=404)
    auth = example(P + "/authorize", "post")
    _, first = call("post", P + "/authorize", ACME, auth, "order-1", want=200)
    pid = first["payment_id"]
    call("post", P + "/authorize", ACME, auth, "order-1", want=200)  # a replay
    call("post", P + "/authorize", ACME, dict(auth, amount="1.00"), "order-1", want=422)
    call("post", P + "/authorize", ACME, auth, want=400)  # no Idempotency-Key
    call("post", P + "/authorize", ACME, dict(auth, card={"number": "4000000000000002", "expiry": "12/30"}), "order-d", want=402)
    call("post", P + "/authorize", None, auth, "order-x", want=401)
    call("post", f"{P}/{pid}/increment", ACME, example(P + "/{id}/increment", "post"), "inc-1", want=200)
    call("post", f"{P}/{pid}/capture", ACME, example(P + "/{id}/capture", "post"), "cap-1", want=200)
    call("post", f"{P}/{pid}/capture", ACME, {"amount": "1.00"}, "cap-2", want=402)
    call("post", f"{P}/{pid}/refund", ACME, example(P + "/{id}/refund", "post"), "ref-1", want=200)
    call("post", f"{P}/pay_999999999999/refund", ACME, {}, "ref-2", want=404)
    _, second = call("post", P + "/authorize", ACME, auth, "order-2", want=200)
    call("post", f"{P}/{second['payment_id']}/void", ACME, {}, "void-2", want=200)
    call("post", f"{P}/{second['payment_id']}/void", ACME, {}, "void-3", want=402)
    call("post", "/v1/disbursements", ACME, example("/v1/disbursements", "post"), "payout-1", want=200)
    call("post", "/v1/p2p", ACME, example("/v1/p2p", "post"), "p2p-1", want=200)
    call("get", P, ACME, want=200)
    call("get", P + "?limit=1&status=captured&created_gte=0&metadata%5Border%5D=A-17", ACME, want=200)
    call("get", P + "?limit=abc", ACME, want=400)
    call("get", P + "?merchant=beta", ACME, want=403)
    call("get", f"{P}/{pid}", ACME, want=200)
    call("get", f"{P}/pay_999999999999", ACME, want=404)
    call("get", "/v1/accounts/m%2Facme%2Favailable/balance", ACME, want=200)
    call("get", "/v1/accounts/m/beta/available/balance", ACME, want=403)
    call("get", "/v1/accounts/nobody/balance", ADMIN, want=404)
    call("get", "/v1/accounts/m/acme/pending/history", ACME, want=200)
    call("get", "/v1/accounts/m/acme/pending", ACME, want=404, template="/v1/accounts/{id}")
    call("get", "/v1/apikeys", ADMIN, want=200)
    call("get", "/v1/apikeys?merchant=beta", ACME, want=403)
    _, made = call("post", "/v1/apikeys?merchant=acme&mode=live", ADMIN, want=200)
    call("post", "/v1/apikeys?merchant=acme", ACME, want=403)
    call("post", "/v1/apikeys?merchant=nobody", ADMIN, want=404)
    key_id = made["api_key"][8:20]
    call("post", f"/v1/apikeys/{key_id}/roll?expires_in=1h", ACME, want=200)
    call("post", f"/v1/apikeys/{key_id}/roll", ACME, want=400)  # rolled once
    call("post", f"/v1/apikeys/{key_id}/revoke", ADMIN, want=200)
    call("post", f"/v1/apikeys/{key_id}/revoke", ADMIN, want=404)
    call("post", "/v1/admin/settle", ADMIN, want=200)
    call("post", "/v1/admin/settle", ACME, want=403)
    call("post", "/v1/admin/expire", ADMIN, want=200)
    call("post", "/v1/admin/resolve", ADMIN, want=200)
    call("get", "/dashboard", want=200)
    call("get", "/dashboard/dashboard.js", want=200)
    call("get", "/dashboard/nope.js", want=404)
    call("get", "/v1/admin/dashboard", ADMIN, want=200)
    call("get", "/v1/admin/dashboard", ACME, want=403)
    call("get", "/v1/ledger/verify", ADMIN, want=200)
    call("get", "/v1/ledger/verify", ACME, want=403)
    call("get", f"/v1/ledger/entries/{first['history'][0]['entry_id']}", ADMIN, want=200)
    call("get", "/v1/ledger/entries/0", ADMIN, want=400)
    call("get", "/v1/ledger/entries/999999", ADMIN, want=404)
    call("get", "/v1/ledger/entries/1", ACME, want=403)
    call("get", "/v1/events", ACME, want=200)
    _, evs = call("get", "/v1/events?type=payment.*&limit=2", ADMIN, want=200)
    call("get", "/v1/events?after=nope", ACME, want=400)
    call("get", "/v1/events?merchant=beta", ACME, want=403)
    _, hook = call("post", "/v1/webhook_endpoints?url=http%3A%2F%2F127.0.0.1%3A9%2Fhooks&enabled_events=payment.*", ACME, want=200)
    call("post", "/v1/webhook_endpoints?url=ftp%3A%2F%2Fx", ACME, want=400)
    call("post", "/v1/webhook_endpoints?url=http%3A%2F%2Fx&merchant=nobody", ADMIN, want=404)
    call("post", "/v1/webhook_endpoints?url=http%3A%2F%2Fx&merchant=beta", ACME, want=403)
    call("get", "/v1/webhook_endpoints", ACME, want=200)
    call("get", "/v1/webhook_endpoints?merchant=beta", ACME, want=403)
    hid = hook["id"]
    call("get", f"/v1/webhook_endpoints/{hid}", ACME, want=200)
    call("get", "/v1/webhook_endpoints/we_0000000000000000", ACME, want=404)
    call("post", f"/v1/webhook_endpoints/{hid}/disable", ACME, want=200)
    call("post", f"/v1/webhook_endpoints/{hid}/enable", ACME, want=200)
    call("post", f"/v1/webhook_endpoints/{hid}/redeliver?event={evs['data'][0]['id']}", ACME, want=200)
    call("post", f"/v1/webhook_endpoints/{hid}/redeliver?event=evt_9999999999999999", ACME, want=404)
    call("post", f"/v1/webhook_endpoints/{hid}/redeliver?event=x", ACME, want=400)
    call("get", f"/v1/webhook_endpoints/{hid}/deliveries", ACME, want=200)
    call("post", f"/v1/webhook_endpoints/{hid}/delete", ACME, want=200)
    call("post", f"/v1/webhook_endpoints/{hid}/delete", ACME, want=404)
    call("get", "/v1/nope", ACME, want=404)
    call("delete", P, ACME, want=405, template=None)
finally:
    server.terminate()
    server.wait(timeout=30)
    for name in os.listdir(work):
        os.remove(os.path.join(work, name))
    os.rmdir(work)

# ---- 3. every operation called -----------------------------------------------------------------
for template, method in sorted(documented_routes - called):
    fail(f"{method.upper()} {template} was never called")
if failures:
    print(f"openapi_test: {len(failures)} problems", file=sys.stderr)
    sys.exit(1)
print(f"openapi_test: ok: {len(documented_routes)} operations, each called and answered as documented")
