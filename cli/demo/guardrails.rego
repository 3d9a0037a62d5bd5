package mandate

# Guardrails run after every signature, delegation and proof check has passed.

default allow := false

from_trusted_network if {
	some cidr in data.trusted_networks
	net.cidr_contains(cidr, input.request.ip)
}

# Secrets: only with a delegation from their owner, and only from a trusted network.
allow if {
	input.request.action == "secrets:read"
	input.user.id == data.secret_owner
	from_trusted_network
}

deny contains "secrets may only be read from a trusted network" if {
	input.request.action == "secrets:read"
	not from_trusted_network
}

deny contains concat("", ["secrets belong to ", data.secret_owner]) if {
	input.request.action == "secrets:read"
	input.user.id != data.secret_owner
}

# Trips: any properly delegated agent.
allow if startswith(input.request.action, "trips:")
