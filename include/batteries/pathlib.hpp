// batteries::pathlib: Python's pathlib, object-oriented file-system paths.
//
// PurePosixPath and PureWindowsPath parse, join and compare paths of either flavour on any
// platform, without touching the file system.
#pragma once

#include <batteries/pathlib/pure.hpp>
