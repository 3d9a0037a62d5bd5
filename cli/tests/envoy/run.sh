#!/usr/bin/env bash
# `mandate serve` as a real Envoy's ext_authz HTTP service, on loopback: allow with principal
# headers reaching the upstream (client-sent copies overwritten), deny with the reason code
# reaching the client, replay, sub-delegation through Mandate-Chain, no credentials; the client
# address is the hop Envoy appended (a forged x-forwarded-for first hop is ignored), ambiguous
# paths and repeated DPoP headers are refused; Envoy authenticates to serve with a caller token
# (headers_to_add), and serve refuses a caller without it.
#
# serve runs with --trusted-hops 1 (Envoy, use_remote_address: true, appends the peer it saw to
# x-forwarded-for and sets x-forwarded-proto) and --audience https://api.example.com (the tokens
# name that API, while the Host Envoy forwards here is 127.0.0.1:<port>).
# Usage: cli/tests/envoy/run.sh <mandate binary> <envoy binary>
set -euo pipefail
MANDATE="$1"
ENVOY="$2"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="$(mktemp -d -t mandate-cli-envoy.XXXXXX)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP_RUN_DIR:-0}" = 1 ]; then echo "logs kept in $DIR" >&2; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
cd "$DIR"

# A project made with the CLI: keys, registry, guardrails, issuers, signed bundle.
for k in root:root-1 idp:idp-1 booker:tb-1 summarizer:sum-1; do
  "$MANDATE" keygen --kid "${k#*:}" --out "keys/${k%%:*}.jwk" >/dev/null
done
"$MANDATE" agent add agent:travel-booker --owner team:travel --key keys/booker.pub.jwk \
  --delegator-user alice --delegator-user bob --scope secrets:read --scope 'trips:*' \
  --may-delegate-to agent:summarizer >/dev/null
"$MANDATE" agent add agent:summarizer --owner team:travel --key keys/summarizer.pub.jwk \
  --delegator-agent agent:travel-booker --scope trips:read >/dev/null
cp "$HERE/../../demo/guardrails.rego" guardrails.rego
# The trusted network is 127.0.0.3 alone: clients here connect from 127.0.0.3 (curl --interface;
# not 127.0.0.1, for which Envoy appends the host's own address instead), and the forged
# x-forwarded-for test connects from 127.0.0.2 claiming to be 127.0.0.3.
printf 'trusted_networks: [127.0.0.3/32]\nsecret_owner: alice\n' > data.yaml
printf -- '- iss: https://idp.example.com\n  keys: [keys/idp.pub.jwk]\n  audiences: [https://api.example.com]\n' > issuers.yaml
"$MANDATE" bundle build --registry registry.yaml --issuers issuers.yaml --policy guardrails.rego \
  --data data.yaml --revision envoy-1 --out bundle.json >/dev/null
"$MANDATE" bundle sign bundle.json --key keys/root.jwk --out bundle.jws >/dev/null

# The upstream, the decision service, then Envoy.
python3 "$HERE/echo_upstream.py" > upstream.port 2>upstream.log &
PIDS+=($!)
# Envoy authenticates itself to serve with a caller token (headers_to_add in envoy.yaml.in).
CALLER_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
printf '# Envoy\n%s\n' "$CALLER_TOKEN" > callers.txt
"$MANDATE" serve --listen 127.0.0.1:0 --bundle bundle.jws --trust keys/root.pub.jwk --audit audit.jsonl \
  --trusted-hops 1 --audience https://api.example.com --caller-token-file callers.txt \
  --route 'GET /v1/secrets/* secrets:read' --route 'GET /v1/trips/* trips:read' > serve.out 2> serve.log &
PIDS+=($!)
for _ in $(seq 100); do [ -s upstream.port ] && grep -q listening serve.out && break; sleep 0.1; done
UPSTREAM_PORT="$(cat upstream.port)"
SERVE_PORT="$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' serve.out)"
sed -e "s/@SERVE_PORT@/$SERVE_PORT/g" -e "s/@UPSTREAM_PORT@/$UPSTREAM_PORT/g" -e "s/@CALLER_TOKEN@/$CALLER_TOKEN/g" \
  "$HERE/envoy.yaml.in" > envoy.yaml
"$ENVOY" -c envoy.yaml --admin-address-path admin.addr --base-id "$((RANDOM + 1000))" -l warning > envoy.log 2>&1 &
PIDS+=($!)
PORT=""
for _ in $(seq 200); do
  if [ -s admin.addr ]; then
    PORT="$(curl -s "http://$(cat admin.addr)/listeners?format=json" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print(d["listener_statuses"][0]["local_address"]["socket_address"]["port_value"])
except Exception:
    pass' || true)"
    [ -n "$PORT" ] && break
  fi
  sleep 0.1
done
[ -n "$PORT" ] || { echo "envoy did not start"; cat envoy.log; exit 1; }
BASE="http://127.0.0.1:$PORT"

pass=0; fail=0
check() { # name, condition result
  if [ "$2" = ok ]; then pass=$((pass + 1)); echo "ok   $1"; else fail=$((fail + 1)); echo "FAIL $1: $2"; fi
}
# request <out-prefix> <path> [curl args...]: writes <out>.status, <out>.headers, <out>.body.
# From 127.0.0.3 unless the args name another --interface (curl: the last one wins).
request() {
  local out="$1" path="$2"; shift 2
  curl -s -o "$out.body" -D "$out.headers" -w '%{http_code}' --interface 127.0.0.3 "$@" "$BASE$path" > "$out.status" || true
}
# header <out-prefix> <name>: the first value, or nothing (never a failure: under set -e a
# missing header would end the run silently instead of reporting a FAIL).
header() { grep -i "^$2:" "$1.headers" 2>/dev/null | head -1 | cut -d' ' -f2- | tr -d '\r' || true; }
upstream() { python3 -c "import json,sys; print(json.load(open('$1.body')).get('$2',''))" 2>/dev/null || true; }
token() { "$MANDATE" token "$@"; }

SECRET="$BASE/v1/secrets/db"
ALICE="$(token delegate --key keys/idp.jwk --iss https://idp.example.com --sub alice --agent agent:travel-booker \
  --agent-key keys/booker.pub.jwk --aud https://api.example.com --scope 'secrets:read trips:read')"
BOB="$(token delegate --key keys/idp.jwk --iss https://idp.example.com --sub bob --agent agent:travel-booker \
  --agent-key keys/booker.pub.jwk --aud https://api.example.com --scope 'secrets:read')"
PROOF="$(token proof --key keys/booker.jwk --method GET --uri "$SECRET" --token "$ALICE")"

request a1 /v1/secrets/db -H "authorization: DPoP $ALICE" -H "dpop: $PROOF" -H "x-mandate-user: mallory"
[ "$(cat a1.status)" = 200 ] && r=ok || r="status $(cat a1.status) $(cat a1.body)"; check "allow: 200 through Envoy" "$r"
[ "$(upstream a1 x-mandate-user)" = alice ] && r=ok || r="upstream saw x-mandate-user=$(upstream a1 x-mandate-user)"; check "upstream sees x-mandate-user alice (client's copy overwritten)" "$r"
[ "$(upstream a1 x-mandate-agent)" = agent:travel-booker ] && r=ok || r="$(upstream a1 x-mandate-agent)"; check "upstream sees x-mandate-agent" "$r"
[ -n "$(upstream a1 x-mandate-decision-id)" ] && r=ok || r=missing; check "upstream sees x-mandate-decision-id" "$r"
XFF="$(upstream a1 x-forwarded-for | cut -d, -f1)"
AUDITED="$(head -1 audit.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["audit"]["request"]["ip"])')"
[ -n "$XFF" ] && [ "$AUDITED" = "$XFF" ] && r=ok || r="audited $AUDITED, Envoy's x-forwarded-for $XFF"
check "the audited client address is Envoy's x-forwarded-for ($XFF)" "$r"
AUDITED_URI="$(head -1 audit.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["audit"]["request"]["uri"])')"
[ "$AUDITED_URI" = "$SECRET" ] && r=ok || r="audited $AUDITED_URI"
check "the audited URI is the original request's" "$r"

request a2 /v1/secrets/db -H "authorization: DPoP $ALICE" -H "dpop: $PROOF"
[ "$(cat a2.status)" = 403 ] && [ "$(header a2 x-mandate-reason)" = replay.detected ] && r=ok || r="$(cat a2.status) $(header a2 x-mandate-reason)"
check "replayed proof: 403 replay.detected" "$r"

request a3 /v1/secrets/db -H "authorization: DPoP $BOB" -H "dpop: $(token proof --key keys/booker.jwk --method GET --uri "$SECRET" --token "$BOB")"
[ "$(cat a3.status)" = 403 ] && [ "$(header a3 x-mandate-reason)" = policy.denied ] && grep -q 'secrets belong to alice' a3.body && r=ok || r="$(cat a3.status) $(header a3 x-mandate-reason) $(cat a3.body)"
check "bob's delegation: 403 policy.denied with the JSON body" "$r"

request a4 /v1/secrets/db
[ "$(cat a4.status)" = 403 ] && [ "$(header a4 x-mandate-reason)" = credentials.missing ] && r=ok || r="$(cat a4.status) $(header a4 x-mandate-reason)"
check "no credentials: 403 credentials.missing" "$r"

TRIP="$BASE/v1/trips/42"
HOP="$(token subdelegate --parent "$ALICE" --key keys/booker.jwk --agent agent:summarizer --agent-key keys/summarizer.pub.jwk --scope trips:read)"
request a5 /v1/trips/42 -H "authorization: DPoP $HOP" -H "mandate-chain: $ALICE" \
  -H "dpop: $(token proof --key keys/summarizer.jwk --method GET --uri "$TRIP" --token "$HOP")"
[ "$(cat a5.status)" = 200 ] && [ "$(upstream a5 x-mandate-chain)" = "agent:travel-booker,agent:summarizer" ] && r=ok || r="$(cat a5.status) $(header a5 x-mandate-reason) $(upstream a5 x-mandate-chain)"
check "sub-delegation via Mandate-Chain: 200, chain upstream" "$r"

WIDE="$(token subdelegate --parent "$ALICE" --key keys/booker.jwk --agent agent:summarizer --agent-key keys/summarizer.pub.jwk --scope 'trips:read secrets:read')"
request a6 /v1/secrets/db -H "authorization: DPoP $WIDE" -H "mandate-chain: $ALICE" \
  -H "dpop: $(token proof --key keys/summarizer.jwk --method GET --uri "$SECRET" --token "$WIDE")"
[ "$(cat a6.status)" = 403 ] && r=ok || r="$(cat a6.status) $(header a6 x-mandate-reason)"
check "sub-agent beyond its ceiling: 403 ($(header a6 x-mandate-reason))" "$r"

# A client outside the trusted network (127.0.0.2) forging the first x-forwarded-for hop as the
# trusted 127.0.0.3: Envoy appends the peer it saw, serve takes that hop, and the audit says so.
request a7 /v1/secrets/db --interface 127.0.0.2 -H "x-forwarded-for: 127.0.0.3" -H "authorization: DPoP $ALICE" \
  -H "dpop: $(token proof --key keys/booker.jwk --method GET --uri "$SECRET" --token "$ALICE")"
AUDITED7="$(sed -n 7p audit.jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["audit"]["request"]["ip"])' 2>/dev/null || true)"
[ "$(cat a7.status)" = 403 ] && [ "$(header a7 x-mandate-reason)" = policy.denied ] && [ "$AUDITED7" = 127.0.0.2 ] && r=ok \
  || r="$(cat a7.status) $(header a7 x-mandate-reason), audited $AUDITED7"
check "forged x-forwarded-for first hop ignored: 403 policy.denied, audited 127.0.0.2" "$r"
# From the trusted 127.0.0.3 with a forged untrusted first hop: allowed (the appended hop decides).
request a8 /v1/secrets/db -H "x-forwarded-for: 203.0.113.9" -H "authorization: DPoP $ALICE" \
  -H "dpop: $(token proof --key keys/booker.jwk --method GET --uri "$SECRET" --token "$ALICE")"
[ "$(cat a8.status)" = 200 ] && r=ok || r="$(cat a8.status) $(header a8 x-mandate-reason)"
check "a forged untrusted first hop from the trusted peer: still 200 (the appended hop decides)" "$r"

# A path that routes as trips but reads as secrets, sent as is (curl --path-as-is): refused.
TRIPS_ONLY="$(token delegate --key keys/idp.jwk --iss https://idp.example.com --sub alice --agent agent:travel-booker \
  --agent-key keys/booker.pub.jwk --aud https://api.example.com --scope 'trips:read')"
request a9 /v1/trips/%2e%2e/secrets/db --path-as-is -H "authorization: DPoP $TRIPS_ONLY" \
  -H "dpop: $(token proof --key keys/booker.jwk --method GET --uri "$SECRET" --token "$TRIPS_ONLY")"
[ "$(cat a9.status)" = 403 ] && [ "$(header a9 x-mandate-reason)" = request.invalid ] && r=ok || r="$(cat a9.status) $(header a9 x-mandate-reason)"
check "/v1/trips/%2e%2e/secrets/db: 403 request.invalid" "$r"

# Two DPoP headers (RFC 9449 §4.3: one). Envoy joins repeated fields with "," (RFC 9110 §5.3)
# before asking ext_authz, so serve sees one DPoP field that is no JWS: refused either way.
P1="$(token proof --key keys/booker.jwk --method GET --uri "$TRIP" --token "$ALICE")"
P2="$(token proof --key keys/booker.jwk --method GET --uri "$TRIP" --token "$ALICE")"
request a10 /v1/trips/42 -H "authorization: DPoP $ALICE" -H "dpop: $P1" -H "dpop: $P2"
case "$(cat a10.status) $(header a10 x-mandate-reason)" in
  "403 request.header_repeated"|"403 proof.malformed") r=ok ;;
  *) r="$(cat a10.status) $(header a10 x-mandate-reason)" ;;
esac
check "two DPoP headers: 403 ($(header a10 x-mandate-reason))" "$r"

# Caller authentication: every check above reached serve with Envoy's token. A client's own
# x-mandate-caller-token is not passed on (allowed_headers), so it changes nothing; asked
# directly, without Envoy's token, serve answers 401 and decides nothing.
request a11 /v1/trips/42 -H "x-mandate-caller-token: forged" -H "authorization: DPoP $ALICE" \
  -H "dpop: $(token proof --key keys/booker.jwk --method GET --uri "$TRIP" --token "$ALICE")"
[ "$(cat a11.status)" = 200 ] && r=ok || r="$(cat a11.status) $(header a11 x-mandate-reason)"
check "a client-sent x-mandate-caller-token is not Envoy's: still decided, 200" "$r"
DIRECT="$(curl -s -o direct.body -w '%{http_code}' -H 'host: api.example.com' -H "authorization: DPoP $ALICE" \
  "http://127.0.0.1:$SERVE_PORT/v1/check/v1/trips/42" || true)"
[ "$DIRECT" = 401 ] && grep -q serve.unauthenticated direct.body && r=ok || r="$DIRECT $(cat direct.body)"
check "serve asked without Envoy's caller token: 401 serve.unauthenticated" "$r"

kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}" || true
"$MANDATE" audit verify audit.jsonl --json | python3 -c 'import json,sys; v=json.load(sys.stdin); sys.exit(0 if v["ok"] and v["records"] == 11 else 1)' && r=ok || r="$("$MANDATE" audit verify audit.jsonl)"
check "audit log: 11 records (none for the 401), chain verified" "$r"

echo "envoy ext_authz: $pass passed, $fail failed"
[ "$fail" = 0 ] || { [ -s envoy.log ] && tail -20 envoy.log; exit 1; }
