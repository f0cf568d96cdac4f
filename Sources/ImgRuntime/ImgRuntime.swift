// The executor arrives with the rootless-execution issue.
