"""The `canary` subcommands: `cli` parses the command line and dispatches to one module each
(`once`, `validate`, `demo`, `detect`, `replay`, `calibrate`; `run` is the daemon). The only
door into the process besides the HTTP server."""
