// This directory is the package of agent clients (see package.json), not Go: this file makes it a module of
// its own, so that `go list ./...` and the tools that walk the repository never descend into node_modules.
module aigw-acceptance-agents
