// The mapping reads and writes JSON, and signs its remote requests, with ShardLogWire (one JSON value, parser and
// writer, one SigV4, shared with the server and the CLI). Re-exported so that the mapping's files, and every module
// that imports the mapping, see those types without an import of their own.
@_exported import ShardLogWire
