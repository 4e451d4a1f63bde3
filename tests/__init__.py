"""The kit's own tests (a package, so every test module has a unique dotted name)."""
