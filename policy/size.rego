# Image size stays under a limit (build facts); a warning from 80% of it.
package bakery.size

limit_mb := 400

deny contains sprintf("the image is %d MB, over the %d MB limit", [round(input.build.size / 1048576), limit_mb]) if {
	input.kind == "image"
	input.build.size > limit_mb * 1048576
}

warn contains sprintf("the image is %d MB, near the %d MB limit", [round(input.build.size / 1048576), limit_mb]) if {
	input.kind == "image"
	input.build.size > (limit_mb * 1048576) * 0.8
	input.build.size <= limit_mb * 1048576
}
