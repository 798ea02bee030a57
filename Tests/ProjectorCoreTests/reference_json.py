# Strict reference for the differential test: Python's json module, with the documented policy
# differences applied by name (depth bound 64, lone surrogate escapes rejected).
import json, sys

def bad_constant(name):
    raise ValueError("non-standard constant " + name)

def depth(text):
    """Deepest nesting of objects and arrays in the text (a value a later duplicate key replaces still counts)."""
    deepest = level = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            level += 1
            deepest = max(deepest, level)
        elif c in "]}":
            level -= 1
    return deepest

def has_surrogate(value):
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(has_surrogate(k) or has_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_surrogate(v) for v in value)
    return False

def text(value):
    return value if isinstance(value, str) else str(value)

def judge(raw):
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        decoded = raw.decode("utf-8")
        event = json.loads(decoded, parse_constant=bad_constant)
    except Exception:
        return [False]
    if has_surrogate(event) or depth(decoded) > 64 or not isinstance(event, dict):
        return [False]
    t, at, aid = event.get("type"), event.get("aggregateType"), event.get("aggregateId")
    if not isinstance(t, str) or t == "" or not isinstance(at, str):
        return [False]
    if isinstance(aid, bool) or not isinstance(aid, (str, int)):
        return [False]
    if "id" in event and (isinstance(event["id"], bool) or not isinstance(event["id"], (str, int, type(None)))):
        return [False]
    if "occurredAt" in event and not isinstance(event["occurredAt"], (str, type(None))):
        return [False]
    ident = event.get("id")
    return [True, t, at, text(aid), None if ident is None else text(ident)]

data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")[:-1]
json.dump([judge(line) for line in lines], sys.stdout)
