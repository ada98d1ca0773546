#!/usr/bin/env python3
"""DEMO_AUTO=1: completes the Procore integration through KTrack's JSON API, waits for the initial sync and
prints what synced next to the emulator's truth. Standard library only."""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

KTRACK = os.environ["DEMO_KTRACK_URL"]
EMULATOR = os.environ["DEMO_EMULATOR_URL"]
CLIENT = os.environ["DEMO_CLIENT_ID"]
COMPANY = os.environ["DEMO_COMPANY_ID"]
BASE = f"{KTRACK}/api/v1/clients/{CLIENT}/procore"


def call(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def step(name, method, path, body=None, ok=(200, 202)):
    status, answer = call(method, BASE + path, body, TOKEN)
    if status not in ok:
        err = answer.get("error", {}) if isinstance(answer, dict) else {}
        sys.exit(f"demo: {name} failed ({status}): {err.get('message', answer)}\n      fix: {err.get('fix', '')}")
    print(f"  ✓ {name}")
    return answer


TOKEN = json.loads(subprocess.check_output(
    [os.path.join(os.environ["KTRACK_BIN_DIR"], "ktrack"), "token", "create", "--email", os.environ["DEMO_EMAIL"],
     "--name", "demo-auto", "--data-dir", os.environ["DEMO_DATA_DIR"], "--json"]).decode().strip().splitlines()[-1])["token"]

def complete_integration():
    print("\nCompleting the integration through the API:")
    step("credentials saved", "PUT", "/credentials", {
        "client_id": os.environ["DEMO_APP_CLIENT_ID"], "client_secret": os.environ["DEMO_APP_CLIENT_SECRET"],
        "environment": "custom", "login_url": EMULATOR, "api_url": EMULATOR})
    step("credentials verified", "POST", "/credentials/verify", {"company_id": int(COMPANY)})
    domains = ["directory", "cost_codes", "budget", "commitments", "prime_contracts", "change_events", "direct_costs",
               "rfis", "submittals", "daily_logs"]
    step("settings chosen", "PUT", "/settings", {"company_id": int(COMPANY), "domains": domains,
                                                 "auto_link_projects": True, "reconcile_interval_s": 3600})
    perms = step("permissions verified", "POST", "/permissions/verify", {})
    if not perms.get("ok"):
        for c in perms.get("checks", []):
            if c.get("status") != "ok":
                print(f"    {c['tool']} ({c['scope']} {c.get('project_id') or ''}): {c['status']} — {c.get('fix', '')}")
        sys.exit("demo: permissions are missing; fix them in the emulator and run again")
    step("integration completed", "POST", "/complete", {})


_, current = call("GET", BASE, token=TOKEN)
already = isinstance(current, dict) and current.get("status") in ("active", "completing")
if already:
    # An earlier run completed it: KTrack carries on (it recreates its webhook in the fresh emulator and
    # reconciles), so the demo only waits for the streams to equal the truth again.
    print(f"\nThe integration is already {current['status']} from an earlier run; KTrack carries on with it.")
else:
    complete_integration()


def differences(streams):
    """The streams whose checksum differs from the truth."""
    _, truth = call("GET", f"{EMULATOR}/_emulator/truth?company_id={COMPANY}")
    sums = {(t["stream"], t.get("project_id")): t["checksum"] for t in truth["streams"]}
    return sorted((s["stream"], s.get("project_id") or 0) for s in streams
                  if sums.get((s["stream"], s.get("project_id"))) != s.get("checksum"))


print("Waiting for the reconciliation" if already else "Waiting for the initial sync", end="", flush=True)
deadline = time.time() + 900
settled = None  # (the streams that differ, since when)
newer_than_truth = False
while time.time() < deadline:
    status, streams = call("GET", BASE + "/streams", token=TOKEN)
    if status == 200 and streams and all(s["status"] == "synced" for s in streams):
        if not already:
            break
        differ = differences(streams)
        if not differ:
            break
        # Records changed or deleted in an earlier run's emulator are newer in KTrack than in this fresh one, and
        # KTrack never moves a record back to an older version: those streams keep differing. A minute in which
        # the reconciliation brought no other stream to the truth says that is all that is left.
        if settled is None or settled[0] != differ:
            settled = (differ, time.time())
        elif time.time() - settled[1] > 60:
            newer_than_truth = True
            break
    print(".", end="", flush=True)
    time.sleep(2)
print()

_, truth = call("GET", f"{EMULATOR}/_emulator/truth?company_id={COMPANY}")
truth_by_key = {(t["stream"], t.get("project_id")): t for t in truth["streams"]}
equal = 0
print(f"{'stream':28} {'project':>14} {'status':>9} {'records':>9} {'Procore':>9}  checksum")
for s in sorted(streams, key=lambda s: (s["stream"], s.get("project_id") or 0)):
    t = truth_by_key.get((s["stream"], s.get("project_id")))
    same = t is not None and t["checksum"] == s.get("checksum")
    equal += same
    print(f"{s['stream']:28} {str(s.get('project_id') or '-'):>14} {s['status']:>9} {s['count']:>9} "
          f"{str(s.get('procore_total')):>9}  {'= truth' if same else 'DIFFERS'}")
print(f"\n{equal} of {len(streams)} streams equal the emulator's truth.")
if newer_than_truth:
    print("The others hold records changed or deleted in an earlier run. This run's emulator started again from its\n"
          "preset, so those records are older in it than in KTrack, and KTrack never moves a record back to an older\n"
          "version (Procore itself never does). To start over: stop the demo, delete its data directory, run it again.")
