# A serving image carries its own testinfra tests; any other image is warned about it.
package bakery.tests

deny contains {
	"msg": concat("", ["is served by ", concat(", ", input.served_by), " but has no tests under images/", input.name, "/tests/test_*.py"]),
	"key": "name",
} if {
	input.kind == "image"
	count(input.served_by) > 0
	count(input.tests) == 0
}

warn contains {
	"msg": sprintf("has no tests under images/%s/tests/test_*.py; only the built-in checks verify it", [input.name]),
	"key": "name",
} if {
	input.kind == "image"
	count(input.served_by) == 0
	count(input.tests) == 0
}
