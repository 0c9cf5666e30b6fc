// batteries::tracemalloc: Python's tracemalloc (PEP 454) for C and C++ programs.
//
// start() begins tracing every allocation of the process (malloc and its kin, every operator
// new); take_snapshot() copies the live blocks with the stacks that made them; Snapshot
// groups them by file and line, compares two snapshots and saves them. The command
// `batteries tracemalloc -- PROGRAM` does the same for programs that were not built with it.
#pragma once

#include <batteries/tracemalloc/snapshot.hpp>
#include <batteries/tracemalloc/tracing.hpp>
