"""Layer 3: the types (each file a type and its node kind) and annotation compiling."""
