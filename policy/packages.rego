# Packages no serving image (one a rollout under rollouts/ deploys) may carry: remote shells and
# plain-text services. Images that are machines rather than services (images/host, the SSH test
# host bakery rolls out to) are not served by a rollout and may need them.
package bakery.packages

denied := {"telnetd", "inetutils-telnetd", "telnetd-ssl", "rsh-server", "rsh-redone-server", "openssh-server", "ftpd", "vsftpd", "netcat-traditional"}

declared(name) if {
	some spec in input.definition.packages
	split(spec, "=")[0] == name
}

deny contains {
	"msg": sprintf("package %s is on the deny list (policy/packages.rego)", [name]),
	"key": sprintf("packages[%d]", [i]),
} if {
	input.kind == "image"
	count(input.served_by) > 0
	some i, spec in input.definition.packages
	name := split(spec, "=")[0]
	name in denied
}

# Build facts: a denied package that came in as a dependency of a declared one.
deny contains sprintf("package %s %s is installed (a dependency) and is on the deny list", [pkg.name, pkg.version]) if {
	input.kind == "image"
	count(input.served_by) > 0
	some pkg in input.build.packages
	pkg.name in denied
	not declared(pkg.name)
}
