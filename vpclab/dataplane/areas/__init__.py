"""Areas: pure functions of a `World` that contribute their part of the one `Plan` (see README.md)."""
