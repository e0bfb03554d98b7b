package sqlite

// OpenImmutable is openImmutable, for the external tests: the read-only
// fallback a process that cannot write the directory takes.
var OpenImmutable = openImmutable
