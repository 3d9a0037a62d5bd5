# The guardrail of the SDK test worlds (bindings-js/test/world.js, bindings-python/tests/world.py):
# one file, so the npm and Python suites decide against the same policy.
package mandate

default allow := false

allow if input.user.id == "alice"

deny contains "untrusted network" if {
    is_string(input.request.ip)
    not net.cidr_contains("10.20.0.0/16", input.request.ip)
}

deny contains "delete_file is never allowed for agents" if input.context.tool.name == "delete_file"

obligations := {"require_approval": true} if input.request.action == "payments:send"

obligations := {"watermark": input.user.id} if input.context.export == true

obligations := {"require_approval": true} if input.context.tool.name == "send_money"
