# A serving image carries its own testinfra tests; any other image is warned about it.
package bakery.tests

deny contains {
	"msg": sprintf("is served by %s but has no tests under images/%s/tests/test_*.py", [concat(", ", input.served_by), input.name]),
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
