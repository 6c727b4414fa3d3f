"""Code shared by the app's functions (not a function: no function.json)."""
