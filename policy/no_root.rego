# A serving image (one that a rollout under rollouts/ deploys) must not run as root.
# Images bakery runs itself (the load balancer) are not served by a rollout.
package bakery.no_root

# (Messages are joined with concat: regopy's sprintf quotes a %s made by concat.)

is_root(user) if user in {"root", "0"}

is_root(user) if startswith(user, "root:")

is_root(user) if startswith(user, "0:")

deny contains {
	"msg": concat("", ["runs as root but is served by ", concat(", ", input.served_by), "; set user: to an unprivileged user"]),
	"key": "user",
} if {
	input.kind == "image"
	count(input.served_by) > 0
	is_root(object.get(input.definition, "user", "root"))
}

# The built image's configured user, in case the definition and the image disagree.
deny contains concat("", ["the built image runs as ", input.build.user, " but is served by ", concat(", ", input.served_by)]) if {
	input.kind == "image"
	count(input.served_by) > 0
	not is_root(object.get(input.definition, "user", "root"))
	is_root(input.build.user)
}
