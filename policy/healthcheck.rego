# Every image says how to tell it is ready: verify and rollouts wait on it.
package bakery.healthcheck

deny contains {
	"msg": "has no healthcheck; add an http path and port (or a command) so verify and rollouts can tell it is ready",
	"key": "healthcheck",
} if {
	input.kind == "image"
	not input.definition.healthcheck
}
