"""netlog_requests.py NETLOG.json: the URLs a page asked for, from chromium's --log-net-log.

Prints one line per request started on behalf of a page (its initiator is an origin,
such as "null" for a file:// page), other than file: and data: URLs. The browser's own
background requests (update checks, network time) have the initiator "not an origin"
and are left out: they are chromium's, not the page's.
"""
import json
import sys

log = json.load(open(sys.argv[1]))
names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
seen = set()
for e in log["events"]:
    p = e.get("params") or {}
    if names.get(e["type"]) != "URL_REQUEST_START_JOB" or "url" not in p:
        continue
    if p.get("initiator") == "not an origin":
        continue
    url = p["url"]
    if url.startswith(("file:", "data:")) or url in seen:
        continue
    seen.add(url)
    print(url)
