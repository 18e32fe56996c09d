# Production never takes all traffic at once: its rollouts go through canary steps.
package bakery.rollouts

deny contains {
	"msg": "a production rollout needs canary steps (strategy.canary.steps)",
	"key": "strategy.canary",
} if {
	input.kind == "rollout"
	input.environment == "production"
	not input.definition.strategy.canary
}
