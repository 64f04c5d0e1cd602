"""Command line: `mmprolong <stage> ...`. Each module here parses one command's arguments and calls a stage."""
