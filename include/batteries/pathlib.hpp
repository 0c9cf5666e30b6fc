// batteries::pathlib: Python's pathlib, object-oriented file-system paths.
//
// PurePosixPath and PureWindowsPath parse, join and compare paths of either flavour on any
// platform, without touching the file system. Path (PosixPath) adds the file system: stat,
// directories, glob/rglob/walk, and reading and writing files.
#pragma once

#include <batteries/pathlib/path.hpp>
#include <batteries/pathlib/pure.hpp>
