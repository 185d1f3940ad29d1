"""Lakes: datasets (folders, globs, lists), object storage, Iceberg and Delta tables, read with pushdown."""
