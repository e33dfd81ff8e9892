"""Where the console lives on the API port: a path no AWS API uses."""

PREFIX = "/console/"
